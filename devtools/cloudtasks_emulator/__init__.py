"""A local Cloud Tasks (v2, HTTP targets) that keeps the semantics the sync engine relies on:
rate limits (token bucket and concurrency), retry backoff, reserved task names, schedule
times, dispatch deadlines and OIDC tokens. Dev tooling only; never deployed.

    python -m devtools.cloudtasks_emulator --port 8123 --http-port 8124 --oidc-mint-url URL

System throttling is modelled (throttle.py): a task answered 429 or 503 waits one more step
of its retry schedule and never less than the response's Retry-After, and each such answer
halves the queue's effective rate (down to 1/16) until quiet periods of
--throttle-recovery-seconds (default 5) double it back. Cloud Tasks documents the behaviour
but not its numbers; these are the emulator's.

Known differences from the real service:
- No persistence: queues and tasks live in memory; a restart forgets them (and the names
  reserved by finished tasks).
- A new or idle queue starts at its full rate: Cloud Tasks ramps dispatches up gradually
  after creation, idleness, unpausing or a burst of newly due tasks.
- System throttling uses fixed numbers (above); the real service adapts to the error rate
  too, and may slow down on high rates of other errors.
- max_burst_size is honoured when a queue sets it (output only in the real v2 API);
  unset, it is one second's worth of the rate.
- Backoffs are not truncated to whole seconds, so tests can use short ones.
- A deleted queue's name can be reused at once (Cloud Tasks: after 7 days).
- App Engine targets and OAuth tokens are refused; ListQueues filters only on state.
"""
