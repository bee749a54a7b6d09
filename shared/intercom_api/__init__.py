"""The Intercom data API: what the intercom-* functions call.

    models.py    request and response models (they feed the OpenAPI document)
    queries.py   reads from the synced store: filters, sorts, keyset pages, the indexes they need
    live.py      the same reads asked of Intercom directly (live=true), mapped to the stored shape
    updates.py   contact custom attributes: Intercom first, then the store, optimistic concurrency
    stats.py     conversation statistics over a date range
    proxy.py     the read-only, allow-listed pass-through to Intercom

Nothing here imports Firestore or httpx at module import; the functions stay quick to start.
"""

CONNECTION_ID = "intercom"
