"""Two generic engine additions Pylon needed: an endpoint budget matched by an exact path
pattern (endpoints sharing a prefix keep budgets of their own), and a connector's after-run
hook, run only when a run wrote something and never failing the run."""

from __future__ import annotations

import dataclasses
from typing import Any

from shared.sync import finish
from shared.sync.models import Counts, Run, RunStatus
from shared.vendors.pylon.connector import CONNECTOR, ENDPOINT_LIMITS


def budgets(method: str, path: str) -> list[str]:
    return [e.key for e in ENDPOINT_LIMITS if e.matches(method, path)]


def test_each_pylon_endpoint_books_only_its_own_budget() -> None:
    assert budgets("GET", "/issues") == ["GET:/issues"]
    assert budgets("POST", "/issues/search") == ["POST:/issues/search"]
    assert budgets("GET", "/issues/iss_1/messages") == ["GET:/issues/[^/]+/messages"]
    assert budgets("GET", "/issues/iss_1") == []  # a single issue is not the listing
    assert budgets("GET", "/accounts") == ["GET:/accounts"]


def run(written: int, status: RunStatus = RunStatus.succeeded) -> Any:
    return Run.model_construct(run_id="r1", status=status, counts=Counts(written=written))


def test_the_after_run_hook_runs_only_when_something_was_written_and_never_fails_the_run() -> None:
    calls: list[str] = []
    connector = dataclasses.replace(CONNECTOR, after_run=lambda db, cid, r: calls.append(cid))
    assert not finish.after_run(None, connector, "c1", run(0))  # type: ignore[arg-type]
    assert not finish.after_run(None, connector, "c1", run(3, RunStatus.failed))  # type: ignore[arg-type]
    assert finish.after_run(None, connector, "c1", run(3)) and calls == ["c1"]  # type: ignore[arg-type]

    def broken(db: Any, cid: str, r: Any) -> None:
        raise RuntimeError("bug")

    assert not finish.after_run(None, dataclasses.replace(CONNECTOR, after_run=broken), "c1", run(3))  # type: ignore[arg-type]
