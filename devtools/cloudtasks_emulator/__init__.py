"""A local Cloud Tasks (v2, HTTP targets) that keeps the semantics the sync engine relies on:
rate limits (token bucket and concurrency), retry backoff, reserved task names, schedule
times, dispatch deadlines and OIDC tokens. Dev tooling only; never deployed.

    python -m devtools.cloudtasks_emulator --port 8123 --http-port 8124 --oidc-mint-url URL
"""
