"""The administration blueprints: sign-in, accounts, settings, first run,
notification channels."""
