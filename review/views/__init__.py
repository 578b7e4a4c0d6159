"""The review blueprints: the queue and review page, the chain's settings,
the word list and the ledger."""
