"""Serving what connectors declare, for every connection: one records function, one proxy,
one actions function, views.

    catalog.py      which vendor streams, actions and views exist; the request and response
                    models generated from their declarations (they feed the OpenAPI document)
    queries.py      a list query -> Criteria -> a store page query; the combinations served
    indexes.py      the composite indexes and field overrides the declarations need
    records.py      store reads: keyset pages without deleted records, one record, the
                    per-stream change marker
    etags.py        ETags of records and of lists, If-Match / If-None-Match
    live.py         live=true: the same query asked of the vendor, answered in the same shape
    handlers.py     the records function's handlers (entry points stay thin)
    proxy.py        the read-only, allow-listed pass-through
    actions.py      write-backs: vendor first, then the store through the ingest path
    idempotency.py  Idempotency-Key: a retried request never acts twice
    openapi.py      one typed OpenAPI operation per vendor stream, action and view

Nothing here imports Firestore or httpx at module import; the functions stay quick to start.
"""
