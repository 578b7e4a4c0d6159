"""Keeping a site running: backup and restore, the demo school (loading and
clearing it), imports from other systems, the command-line commands and the
health check."""
