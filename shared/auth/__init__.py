"""Token verification: Firebase ID tokens for people, Google OIDC tokens for machines.

Both check a real RS256 signature against a certificate set (Google's in production, one
served locally in the dev stack and tests). There is no switch that skips the signature.
"""
