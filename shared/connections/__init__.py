"""Connections: one vendor account of an organization (or of one person, for per-user
vendors), its config, stream selection, schedule, status, and encrypted credentials."""
