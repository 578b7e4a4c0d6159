"""Running the site: accounts and sign-in (with login throttling),
departments, settings, the first-run setup, clearing the demo, the audit log
and notification channels."""
