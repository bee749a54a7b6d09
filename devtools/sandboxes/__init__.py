"""Sandbox vendors: local HTTP servers that behave like vendor APIs, for dev, tests and benchmarks."""
