"""Running the site: sign-in (with login throttling) and sessions, accounts,
departments, settings, the first-run setup and its «清除演示内容» page, the
audit log page and notification channels."""
