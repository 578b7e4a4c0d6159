"""先审后发: the review chain a post passes before it goes public, the
compliance check with its word list, the review ledger and its export, and
the diff reviewers read."""
