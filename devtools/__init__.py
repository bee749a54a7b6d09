"""Local development tooling: emulators, sandbox vendors, the local stack. Never deployed."""
