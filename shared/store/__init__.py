"""Firestore, and only Firestore: the client, record upserts, runs, cursors, leases.

Knows nothing about vendors or HTTP. google.cloud.firestore is imported lazily so that
functions that never touch the store do not pay for it at cold start.
"""
