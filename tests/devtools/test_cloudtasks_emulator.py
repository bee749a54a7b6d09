"""The Cloud Tasks emulator, driven by the real google-cloud-tasks client through shared.tasks.

Each test gets its own queue and its own key on the recording target, so the timings one
test measures are not disturbed by another's tasks.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import google.auth.transport.requests
import httpx
import pytest
from google.api_core import exceptions
from google.cloud import tasks_v2
from google.oauth2 import id_token

from devtools.cloudtasks_emulator.backoff import RetryPolicy, backoff_seconds, should_give_up
from devtools.identity import IdentityServer
from shared.tasks import QueueSpec, enqueue, ensure_queue, task_id_for, tasks_client
from tests.devtools.conftest import RecordTarget, RunningEmulator, start_emulator, wait_until

PROJECT = "tributary-test"
LOCATION = "europe-west1"
SA = "tasks-invoker@tributary-test.iam.gserviceaccount.com"


def _spec(**overrides: Any) -> QueueSpec:
    values: dict[str, Any] = {
        "name": f"q-{uuid.uuid4().hex[:10]}",
        "max_dispatches_per_second": 100.0,
        "max_concurrent_dispatches": 50,
        "max_attempts": 3,
        "min_backoff_seconds": 0.1,
        "max_backoff_seconds": 1.0,
        "max_doublings": 3,
    }
    values.update(overrides)
    return QueueSpec(**values)


@pytest.fixture()
def client(cloudtasks_emulator: RunningEmulator) -> tasks_v2.CloudTasksClient:
    return tasks_client(cloudtasks_emulator.host)


def _queue(client: tasks_v2.CloudTasksClient, **overrides: Any) -> QueueSpec:
    spec = _spec(**overrides)
    ensure_queue(client, PROJECT, LOCATION, spec)
    return spec


def _enqueue(
    client: tasks_v2.CloudTasksClient, spec: QueueSpec, task_id: str, url: str, **kwargs: Any
) -> bool:
    return enqueue(
        client,
        project=PROJECT,
        location=LOCATION,
        queue=spec.name,
        task_id=task_id,
        url=url,
        payload={"task": task_id},
        oidc_service_account=SA,
        audience=kwargs.pop("audience", url),
        **kwargs,
    )


def _task_name(spec: QueueSpec, task_id: str) -> str:
    return f"{spec.queue_path(PROJECT, LOCATION)}/tasks/{task_id}"


def _status(emulator: RunningEmulator) -> dict[str, Any]:
    return httpx.get(emulator.status_url, timeout=5).json()


def _gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


# pure functions --------------------------------------------------------------------------


def test_backoff_follows_the_documented_example() -> None:
    policy = RetryPolicy(max_attempts=10, min_backoff_s=10, max_backoff_s=300, max_doublings=3)
    assert [backoff_seconds(policy, n) for n in range(1, 9)] == [10, 20, 40, 80, 160, 240, 300, 300]
    with pytest.raises(ValueError):
        backoff_seconds(policy, 0)


def test_giving_up_needs_both_attempts_and_duration() -> None:
    both = RetryPolicy(max_attempts=3, max_retry_duration_s=60)
    assert not should_give_up(both, attempts=3, first_attempt_at=0, now=59)
    assert not should_give_up(both, attempts=2, first_attempt_at=0, now=61)
    assert should_give_up(both, attempts=3, first_attempt_at=0, now=60)
    assert should_give_up(RetryPolicy(max_attempts=3), attempts=3, first_attempt_at=0, now=0)
    assert not should_give_up(RetryPolicy(max_attempts=-1), attempts=10_000, first_attempt_at=0, now=1e9)


def test_task_id_for_is_deterministic_valid_and_unambiguous() -> None:
    first = task_id_for("conn/1", "run 2", "chain", "3")
    assert first == task_id_for("conn/1", "run 2", "chain", "3")
    assert first.endswith("-conn_1-run_2-chain-3")
    assert task_id_for("a-b", "c") != task_id_for("a", "b-c")
    assert task_id_for("a/b") != task_id_for("a_b")
    long_id = task_id_for("x" * 5000, "é" * 300, "y")
    assert len(long_id) <= 500
    for value in (first, long_id, task_id_for("")):
        assert all(c.isascii() and (c.isalnum() or c in "-_") for c in value), value
    with pytest.raises(ValueError):
        task_id_for()


def test_queue_spec_validates_and_builds_the_queue() -> None:
    spec = _spec(name="sync-intercom", max_burst_size=2, max_retry_duration_seconds=3600)
    queue = spec.to_queue("p", "l")
    assert queue.name == "projects/p/locations/l/queues/sync-intercom"
    assert queue.rate_limits.max_burst_size == 2
    assert queue.retry_config.min_backoff == timedelta(seconds=0.1)
    assert queue.retry_config.max_retry_duration == timedelta(hours=1)
    for bad in (
        {"name": "bad_name"},
        {"max_attempts": 0},
        {"min_backoff_seconds": 5.0},
        {"max_dispatches_per_second": 0},
    ):
        with pytest.raises(ValueError):
            _spec(**bad)


def test_enqueue_refuses_an_invalid_task_id(client: tasks_v2.CloudTasksClient) -> None:
    with pytest.raises(ValueError):
        _enqueue(client, _spec(), "has a space", "http://127.0.0.1:1/x")


# API semantics ---------------------------------------------------------------------------


def test_queue_crud_and_status_codes(client: tasks_v2.CloudTasksClient) -> None:
    spec = _queue(client, max_concurrent_dispatches=7)
    name = spec.queue_path(PROJECT, LOCATION)
    parent = f"projects/{PROJECT}/locations/{LOCATION}"
    assert client.get_queue(name=name).rate_limits.max_concurrent_dispatches == 7
    assert name in [q.name for q in client.list_queues(parent=parent)]
    with pytest.raises(exceptions.AlreadyExists):
        client.create_queue(parent=parent, queue=spec.to_queue(PROJECT, LOCATION))
    updated = ensure_queue(
        client, PROJECT, LOCATION, spec.model_copy(update={"max_concurrent_dispatches": 9})
    )
    assert updated.rate_limits.max_concurrent_dispatches == 9
    assert client.pause_queue(name=name).state == tasks_v2.Queue.State.PAUSED
    assert client.resume_queue(name=name).state == tasks_v2.Queue.State.RUNNING
    client.delete_queue(name=name)
    with pytest.raises(exceptions.NotFound):
        client.get_queue(name=name)
    with pytest.raises(exceptions.NotFound):
        _enqueue(client, spec, "t1", "http://127.0.0.1:1/x")
    with pytest.raises(exceptions.InvalidArgument):
        client.create_queue(parent=parent, queue=tasks_v2.Queue(name=f"{parent}/queues/bad_name"))


def test_invalid_tasks_are_refused(client: tasks_v2.CloudTasksClient) -> None:
    spec = _queue(client)
    with pytest.raises(exceptions.InvalidArgument):  # below the 15 s minimum
        _enqueue(client, spec, "short-deadline", "http://127.0.0.1:1/x", dispatch_deadline_seconds=5)
    with pytest.raises(exceptions.InvalidArgument):
        client.create_task(
            parent=spec.queue_path(PROJECT, LOCATION),
            task=tasks_v2.Task(http_request=tasks_v2.HttpRequest(url="ftp://example.com/")),
        )


def test_duplicate_names_are_refused_while_pending_after_running_and_after_delete(
    client: tasks_v2.CloudTasksClient, record_target: RecordTarget
) -> None:
    spec = _queue(client)
    key = record_target.new_key()
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert _enqueue(client, spec, "pending", record_target.url(key), schedule_time=later) is True
    assert _enqueue(client, spec, "pending", record_target.url(key), schedule_time=later) is False

    assert _enqueue(client, spec, "ran", record_target.url(key)) is True
    assert wait_until(lambda: len(record_target.for_key(key)) == 1, 5)
    assert wait_until(lambda: _gone(client, _task_name(spec, "ran")), 5)
    assert _enqueue(client, spec, "ran", record_target.url(key)) is False

    client.delete_task(name=_task_name(spec, "pending"))
    assert _enqueue(client, spec, "pending", record_target.url(key)) is False
    assert len(record_target.for_key(key)) == 1  # neither refused task ever ran


def _gone(client: tasks_v2.CloudTasksClient, name: str) -> bool:
    try:
        client.get_task(name=name)
    except exceptions.NotFound:
        return True
    return False


def test_reserved_names_expire_after_the_configured_time(
    log_dir: Any, oidc_fixture: IdentityServer, record_target: RecordTarget
) -> None:
    emulator = start_emulator(
        log_dir, "cloudtasks-short-tombstone", oidc_fixture.mint_oidc_url, "--tombstone-seconds", "0.5"
    )
    try:
        client = tasks_client(emulator.host)
        spec = _queue(client)
        key = record_target.new_key()
        assert _enqueue(client, spec, "again", record_target.url(key)) is True
        assert wait_until(lambda: len(record_target.for_key(key)) == 1, 5)
        assert _enqueue(client, spec, "again", record_target.url(key)) is False
        assert wait_until(lambda: _enqueue(client, spec, "again", record_target.url(key)), 3, interval_s=0.1)
        assert wait_until(lambda: len(record_target.for_key(key)) == 2, 5)
    finally:
        emulator.process.stop()
    assert emulator.process.proc is not None and emulator.process.proc.returncode == 0  # clean SIGTERM
    assert "Cloud Tasks emulator stopped" in emulator.process.tail()


def test_unnamed_tasks_get_generated_names(
    client: tasks_v2.CloudTasksClient, record_target: RecordTarget
) -> None:
    spec = _queue(client)
    parent = spec.queue_path(PROJECT, LOCATION)
    task = tasks_v2.Task(http_request=tasks_v2.HttpRequest(url=record_target.url(record_target.new_key())))
    first = client.create_task(parent=parent, task=task).name
    second = client.create_task(parent=parent, task=task).name
    assert first.startswith(parent + "/tasks/") and second.startswith(parent + "/tasks/")
    assert first != second


# dispatch --------------------------------------------------------------------------------


def test_max_dispatches_per_second_holds(
    client: tasks_v2.CloudTasksClient, record_target: RecordTarget
) -> None:
    spec = _queue(client, max_dispatches_per_second=5.0, max_burst_size=1)
    key = record_target.new_key()
    parent = spec.queue_path(PROJECT, LOCATION)
    for _ in range(15):  # no OIDC token, so no mint latency blurs the arrival times
        client.create_task(parent=parent, task=_plain_task(record_target.url(key)))
    assert wait_until(lambda: len(record_target.for_key(key)) == 15, 10)
    times = sorted(h.at for h in record_target.for_key(key))
    # 14 intervals at 5/s with a bucket of one: 2.8 s (an unlimited queue: ~0.05 s).
    assert times[-1] - times[0] >= 2.5
    assert sorted(_gaps(times))[7] >= 0.15  # the median interval
    # At most burst + rate in any second of arrivals, plus one for scheduling jitter.
    assert all(sum(1 for t in times if start <= t < start + 1.0) <= 7 for start in times)


def _plain_task(url: str) -> tasks_v2.Task:
    return tasks_v2.Task(http_request=tasks_v2.HttpRequest(url=url))


def test_max_concurrent_dispatches_holds(
    client: tasks_v2.CloudTasksClient, record_target: RecordTarget
) -> None:
    spec = _queue(client, max_dispatches_per_second=500.0, max_concurrent_dispatches=3)
    key = record_target.new_key()
    for i in range(12):
        assert _enqueue(client, spec, f"t{i}", record_target.url(key, sleep_ms=300))
    assert wait_until(lambda: len(record_target.for_key(key)) == 12 and record_target.in_flight[key] == 0, 10)
    assert record_target.max_in_flight[key] == 3  # reached, never exceeded
    times = sorted(h.at for h in record_target.for_key(key))
    assert times[-1] - times[0] >= 0.85  # four waves of three, 0.3 s apart


def test_failures_back_off_and_stop_at_max_attempts(
    client: tasks_v2.CloudTasksClient, record_target: RecordTarget, cloudtasks_emulator: RunningEmulator
) -> None:
    spec = _queue(client, max_attempts=5, min_backoff_seconds=0.2, max_backoff_seconds=1.0, max_doublings=2)
    key = record_target.new_key()
    assert _enqueue(client, spec, "fails", record_target.url(key, status=500))
    assert wait_until(lambda: len(record_target.for_key(key)) == 5, 8)
    assert wait_until(lambda: _gone(client, _task_name(spec, "fails")), 2)
    hits = record_target.for_key(key)
    # 0.2, 0.4, 0.8, then linear (0.8 + 0.8) capped at 1.0
    for gap, expected in zip(_gaps([h.at for h in hits]), [0.2, 0.4, 0.8, 1.0], strict=True):
        assert expected - 0.05 <= gap <= expected + 0.3, (gap, expected)
    assert [h.headers["x-cloudtasks-taskretrycount"] for h in hits] == ["0", "1", "2", "3", "4"]
    assert [h.headers["x-cloudtasks-taskexecutioncount"] for h in hits] == ["0"] * 5  # 5xx do not count
    assert "x-cloudtasks-taskpreviousresponse" not in hits[0].headers
    assert "x-cloudtasks-taskretryreason" not in hits[0].headers
    assert all(h.headers["x-cloudtasks-taskpreviousresponse"] == "500" for h in hits[1:])
    assert all(h.headers["x-cloudtasks-taskretryreason"] for h in hits[1:])
    dropped = [
        d for d in _status(cloudtasks_emulator)["dropped_tasks"] if d["task"] == _task_name(spec, "fails")
    ]
    assert len(dropped) == 1 and dropped[0]["attempts"] == 5 and dropped[0]["last_http_status"] == 500


def test_retry_duration_extends_attempts_beyond_max_attempts(
    client: tasks_v2.CloudTasksClient, record_target: RecordTarget
) -> None:
    """Cloud Tasks gives up only when max_attempts AND max_retry_duration are both reached."""
    spec = _queue(
        client,
        max_attempts=2,
        min_backoff_seconds=0.25,
        max_backoff_seconds=0.25,
        max_doublings=1,
        max_retry_duration_seconds=1.2,
    )
    key = record_target.new_key()
    assert _enqueue(client, spec, "keeps-trying", record_target.url(key, status=503))
    assert wait_until(lambda: _gone(client, _task_name(spec, "keeps-trying")), 5)
    hits = record_target.for_key(key)
    assert len(hits) >= 5
    assert hits[-1].at - hits[0].at >= 1.2


def test_execution_count_counts_non_5xx_responses(
    client: tasks_v2.CloudTasksClient, record_target: RecordTarget
) -> None:
    spec = _queue(client, max_attempts=3)
    key = record_target.new_key()
    assert _enqueue(client, spec, "not-found", record_target.url(key, status=404))
    assert wait_until(lambda: len(record_target.for_key(key)) == 3, 5)
    hits = record_target.for_key(key)
    assert [h.headers["x-cloudtasks-taskexecutioncount"] for h in hits] == ["0", "1", "2"]
    assert [h.headers.get("x-cloudtasks-taskpreviousresponse") for h in hits] == [None, "404", "404"]


def test_dispatch_deadline_cuts_a_slow_handler(record_target: RecordTarget) -> None:
    """In process: the API's 15 s minimum deadline would make a subprocess test slow."""
    from devtools.cloudtasks_emulator.delivery import OidcMinter, Request, Sender

    sender = Sender(OidcMinter(None))
    try:
        url = record_target.url(record_target.new_key(), sleep_ms=1500)
        started = time.monotonic()
        outcome = sender.send(Request("POST", url, {}, b"{}", deadline_s=0.3), {})
        assert time.monotonic() - started < 1.0
        assert outcome.http_status is None and outcome.code.name == "DEADLINE_EXCEEDED" and not outcome.ok
        fast = sender.send(
            Request("POST", record_target.url(record_target.new_key()), {}, b"", deadline_s=5), {}
        )
        assert fast.ok and fast.http_status == 200
    finally:
        sender.close()


def test_connection_errors_are_failed_attempts(
    client: tasks_v2.CloudTasksClient, cloudtasks_emulator: RunningEmulator
) -> None:
    from devtools.processes import free_port

    spec = _queue(client, max_attempts=2)
    assert _enqueue(client, spec, "nobody-home", f"http://127.0.0.1:{free_port()}/x")
    name = _task_name(spec, "nobody-home")
    assert wait_until(
        lambda: any(d["task"] == name for d in _status(cloudtasks_emulator)["dropped_tasks"]), 5
    )
    record = next(d for d in _status(cloudtasks_emulator)["dropped_tasks"] if d["task"] == name)
    assert record["attempts"] == 2 and record["responses"] == 0 and record["last_status"] == "UNAVAILABLE"


def test_schedule_time_is_honoured(client: tasks_v2.CloudTasksClient, record_target: RecordTarget) -> None:
    spec = _queue(client)
    key = record_target.new_key()
    eta = datetime.now(UTC) + timedelta(seconds=1.5)
    assert _enqueue(client, spec, "later", record_target.url(key), schedule_time=eta)
    listed = list(client.list_tasks(parent=spec.queue_path(PROJECT, LOCATION)))
    assert [t.name for t in listed] == [_task_name(spec, "later")] and listed[0].dispatch_count == 0
    assert wait_until(lambda: len(record_target.for_key(key)) == 1, 5)
    hit = record_target.for_key(key)[0]
    assert datetime.now(UTC) >= eta
    assert abs(float(hit.headers["x-cloudtasks-tasketa"]) - eta.timestamp()) < 0.01
    assert json.loads(hit.body) == {"task": "later"}
    assert hit.headers["content-type"] == "application/json"


def test_oidc_token_is_signed_for_the_audience_and_account(
    client: tasks_v2.CloudTasksClient, record_target: RecordTarget, oidc_fixture: IdentityServer
) -> None:
    spec = _queue(client)
    key = record_target.new_key()
    url = record_target.url(key, "worker")
    assert _enqueue(client, spec, "signed", url, audience="https://functions.example/worker")
    bare = tasks_v2.Task(
        http_request=tasks_v2.HttpRequest(
            url=record_target.url(key, "default-audience"),
            oidc_token=tasks_v2.OidcToken(service_account_email=SA),
        )
    )
    client.create_task(parent=spec.queue_path(PROJECT, LOCATION), task=bare)
    assert wait_until(lambda: len(record_target.for_key(key)) == 2, 5)
    request = google.auth.transport.requests.Request()
    by_path = {h.path: h for h in record_target.for_key(key)}
    for path, audience in (
        (f"/{key}/worker", "https://functions.example/worker"),
        (f"/{key}/default-audience", record_target.url(key, "default-audience")),
    ):
        hit = by_path[path]
        scheme, token = hit.headers["authorization"].split(" ", 1)
        assert scheme == "Bearer"
        claims = id_token.verify_token(token, request, audience=audience, certs_url=oidc_fixture.oidc_certs_url)
        assert claims["email"] == SA and claims["email_verified"] is True
        assert claims["iss"] == "https://accounts.google.com"
        assert hit.headers["user-agent"] == "Google-Cloud-Tasks"
        assert hit.headers["x-cloudtasks-queuename"] == spec.name
        assert hit.headers["x-cloudtasks-taskretrycount"] == "0"
    assert by_path[f"/{key}/worker"].headers["x-cloudtasks-taskname"] == "signed"
    with pytest.raises(ValueError):  # a token for another audience does not verify
        id_token.verify_token(
            by_path[f"/{key}/worker"].headers["authorization"][7:],
            request,
            audience="https://elsewhere.example/",
            certs_url=oidc_fixture.oidc_certs_url,
        )


def test_pause_purge_resume_and_attempt_bookkeeping(
    client: tasks_v2.CloudTasksClient, record_target: RecordTarget
) -> None:
    spec = _queue(client, min_backoff_seconds=30.0, max_backoff_seconds=30.0)
    name = spec.queue_path(PROJECT, LOCATION)
    key = record_target.new_key()
    client.pause_queue(name=name)
    for i in range(3):
        assert _enqueue(client, spec, f"p{i}", record_target.url(key))
    assert _enqueue(client, spec, "fails-once", record_target.url(key, "failing", status=500))
    assert not wait_until(lambda: len(record_target.for_key(key)) > 0, 0.5)
    assert len(list(client.list_tasks(parent=name))) == 4

    client.resume_queue(name=name)
    assert wait_until(lambda: len(record_target.for_key(key)) == 4, 5)
    assert wait_until(
        lambda: [t.name for t in client.list_tasks(parent=name)] == [_task_name(spec, "fails-once")], 5
    )
    task = client.get_task(name=_task_name(spec, "fails-once"))
    assert task.dispatch_count == 1 and task.response_count == 1
    assert task.first_attempt.dispatch_time is not None
    assert task.last_attempt.response_status.code == 13  # INTERNAL for an HTTP 500
    assert task.schedule_time.timestamp() > datetime.now(UTC).timestamp() + 20  # backing off

    client.pause_queue(name=name)
    assert _enqueue(client, spec, "purged", record_target.url(key))
    client.purge_queue(name=name)
    assert list(client.list_tasks(parent=name)) == []
    client.resume_queue(name=name)
    assert not wait_until(lambda: len(record_target.for_key(key)) > 4, 0.5)
    assert _enqueue(client, spec, "purged", record_target.url(key)) is False


def test_run_task_dispatches_now(client: tasks_v2.CloudTasksClient, record_target: RecordTarget) -> None:
    spec = _queue(client)
    key = record_target.new_key()
    assert _enqueue(
        client,
        spec,
        "forced",
        record_target.url(key),
        schedule_time=datetime.now(UTC) + timedelta(minutes=10),
    )
    client.pause_queue(name=spec.queue_path(PROJECT, LOCATION))
    client.run_task(name=_task_name(spec, "forced"))
    assert wait_until(lambda: len(record_target.for_key(key)) == 1, 3)
    assert wait_until(lambda: _gone(client, _task_name(spec, "forced")), 3)
    with pytest.raises(exceptions.NotFound):
        client.run_task(name=_task_name(spec, "forced"))


def test_status_page_lists_queues(
    cloudtasks_emulator: RunningEmulator, client: tasks_v2.CloudTasksClient
) -> None:
    spec = _queue(client)
    page = httpx.get(cloudtasks_emulator.status_url.replace("/status.json", "/"), timeout=5)
    assert page.status_code == 200 and spec.name in page.text
    queues = {q["name"]: q for q in _status(cloudtasks_emulator)["queues"]}
    assert queues[spec.queue_path(PROJECT, LOCATION)]["state"] == "RUNNING"
