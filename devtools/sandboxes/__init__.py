"""Sandbox vendors: local HTTP servers that behave like vendor APIs, for dev, tests and benchmarks.

kit/ holds what every sandbox shares (app pipeline, rate limits, faults, paging, controls,
OAuth, server, CLI); each <vendor>/ package is that vendor's routes, records and rendering,
and declares itself in <vendor>/sandbox.py for registry.py.
"""
