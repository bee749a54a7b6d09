"""A local Cloud Tasks (v2, HTTP targets) that keeps the semantics the sync engine relies on:
rate limits (token bucket and concurrency), retry backoff, reserved task names, schedule
times, dispatch deadlines and OIDC tokens. Dev tooling only; never deployed.

    python -m devtools.cloudtasks_emulator --port 8123 --http-port 8124 --oidc-mint-url URL

Known differences from the real service (state is in memory; a restart forgets it):
- max_burst_size is honoured when a queue sets it (output only in the real v2 API);
  unset, it is one second's worth of the rate.
- Backoffs are not truncated to whole seconds, so tests can use short ones.
- No system throttling: 429/503 answers and Retry-After do not slow the queue further,
  and a new or idle queue does not ramp up.
- A deleted queue's name can be reused at once (Cloud Tasks: after 7 days).
- App Engine targets and OAuth tokens are refused; ListQueues filters only on state.
"""
