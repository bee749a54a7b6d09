"""A local stand-in for Pylon's API on the sandbox kit: issues (30-day windows on GET
/issues, POST /issues/search), messages per issue, accounts, users, teams, Pylon's
per-endpoint limits with 429s and rate-limit headers, fault injection (the kit's)."""
