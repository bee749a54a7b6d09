"""Pieces any sandbox vendor reuses: an OAuth 2 authorization server (oauth.py) and a
background WSGI server for tests (server.py)."""
