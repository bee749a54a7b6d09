"""Usage credits: an organization's included credits (reset on its billing date) and
purchased credits (carried over), spent included-first through a ledger (ledger.py)."""
