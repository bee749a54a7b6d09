"""Tributary's shared library: everything the HTTP functions have in common.

One package per concern: config, errors, logging, api (HTTP + auth), store (Firestore),
tasks (Cloud Tasks), vendors (connectors), sync (the vendor-agnostic engine).
"""

__version__ = "0.1.0"
