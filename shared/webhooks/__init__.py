"""Vendor webhooks, from the wire to the one ingest path.

    webhooks (public)       verify the raw bytes -> map to events -> remember each event by the
                            vendor's delivery id -> enqueue a task named by it -> 200, fast
    webhook-worker (tasks)  the remembered event -> shared.sync.ingest (upsert, tombstone, or
                            fetch the record first) -> the delivery is marked processed

    secrets.py        a connection's webhook secrets, encrypted like its credentials
    deliveries.py     delivery records (dedupe), their tasks and queues
    receive.py        the acknowledgement path
    process.py        what the worker does with one delivery
    registration.py   registering and removing webhooks with vendors whose API allows it
    api.py            the functions' handlers and models

Exactly-once effect under at-least-once delivery comes from three things that do not trust
each other: a delivery record per vendor delivery id (a duplicate is not enqueued again once
processed), a task named by that id (a duplicate enqueue is refused by Cloud Tasks), and the
ingest path's newer-wins upsert (a replay or an older event changes nothing whatever got
through the first two).
"""
