"""Cloud Scheduler's stand-in for the local stack: call `sync-scheduler` every few minutes
with the scheduler service account's OIDC token, as the deployed job does (TICK_CRON).

Without it `make dev` ran no tick, so nothing looked after runs in flight: a run whose
tasks were lost (a deferred chunk's included) stayed `running` for good, where production's
run doctor resumes its stalled chains from their checkpoints or fails its expired lease.
The tick also plans connections whose schedule is due, as in production.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx

from devtools.identity import LocalIdentity

#: Cloud Scheduler calls the tick every 5 minutes (shared.sync.scheduler.TICK_CRON)
DEFAULT_EVERY_S = 300.0


class LocalScheduler:
    """Ticks every `every_s` seconds on a daemon thread, the first tick one period after
    start (the stack's own first sync is started by hand); `report` gets each tick's answer."""

    def __init__(self, functions_base: str, identity: LocalIdentity, service_account: str, every_s: float,
                 report: Callable[[dict[str, Any]], None] = lambda _: None) -> None:
        self.url = f"{functions_base}/sync-scheduler"
        self.identity = identity
        self.service_account = service_account
        self.every_s = every_s
        self.report = report
        self.ticks = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="local-scheduler", daemon=True)

    def start(self) -> LocalScheduler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def tick(self) -> dict[str, Any]:
        token = self.identity.oidc_token(self.url, self.service_account)
        response = httpx.post(self.url, json={}, headers={"Authorization": f"Bearer {token}"}, timeout=300)
        response.raise_for_status()
        self.ticks += 1
        return dict(response.json())

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                answer = self.tick()
            except httpx.HTTPError as exc:  # the next tick tries again, as Cloud Scheduler's retry would
                self.report({"error": repr(exc)})
                continue
            self.report(answer)
