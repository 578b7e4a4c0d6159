"""The operations blueprint: the health check."""
