"""Vendor connectors and the machinery they share (HTTP client, retry, pagination).

A connector (shared/vendors/<vendor>/) only declares: its settings, streams, pagination,
cursor field, raw models, mappers and rate limit. It never imports store, tasks or Flask.
"""
