"""System throttling in the Cloud Tasks emulator (devtools/cloudtasks_emulator/throttle.py):
a task answered 429/503 waits longer and never less than Retry-After, and the queue slows
down for a while, as Cloud Tasks documents for HTTP targets ("System throttling")."""

from __future__ import annotations

import itertools
import statistics
import time
import uuid
from email.utils import formatdate
from typing import Any

import httpx
import pytest
from google.cloud import tasks_v2

from devtools.cloudtasks_emulator.ratelimit import TokenBucket
from devtools.cloudtasks_emulator.throttle import SystemThrottle, retry_after_seconds, throttled_retry_delay
from devtools.identity import IdentityServer
from shared.tasks import QueueSpec, ensure_queue, tasks_client
from tests.devtools.conftest import RecordTarget, RunningEmulator, start_emulator, wait_until

PROJECT = "tributary-test"
LOCATION = "europe-west1"


# pure arithmetic ---------------------------------------------------------------------------


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = 1_767_225_600.0
    assert retry_after_seconds("2", now) == 2.0
    assert retry_after_seconds(" 120 ", now) == 120.0
    assert retry_after_seconds(formatdate(now + 30, usegmt=True), now) == pytest.approx(30.0)
    assert retry_after_seconds(formatdate(now - 30, usegmt=True), now) == 0.0  # already past
    assert retry_after_seconds("-5", now) == 0.0
    for unreadable in (None, "", "soon", "nan", "inf"):
        assert retry_after_seconds(unreadable, now) is None


def test_throttled_retry_waits_for_the_longer_of_schedule_and_retry_after() -> None:
    assert throttled_retry_delay(0.4, None) == 0.4
    assert throttled_retry_delay(0.4, 2.0) == 2.0
    assert throttled_retry_delay(10.0, 2.0) == 10.0


def test_each_429_or_503_halves_the_rate_and_quiet_periods_double_it_back() -> None:
    throttle = SystemThrottle(recovery_s=5.0)
    assert throttle.factor(0.0) == 1.0
    assert throttle.signal(100.0) == 0.5
    assert throttle.signal(101.0) == 0.25
    assert throttle.factor(105.9) == 0.25
    assert throttle.factor(106.0) == 0.5
    assert throttle.factor(111.0) == 1.0 and throttle.factor(500.0) == 1.0
    assert throttle.signal(107.0) == 0.25  # halved from the recovering 0.5, not from the floor
    for i in range(10):
        throttle.signal(200.0 + i)
    assert throttle.factor(209.0) == 1 / 16  # never below the floor
    assert SystemThrottle(recovery_s=0).factor(0.0) == 1.0


def test_a_throttled_bucket_refills_slower_and_cannot_spend_its_saved_burst() -> None:
    bucket = TokenBucket(rate_per_s=10.0, capacity=10, now=0.0)
    assert bucket.try_take(0.0, factor=0.5)
    taken = sum(bucket.try_take(0.0, factor=0.5) for _ in range(20))
    assert taken == 4  # capacity 10 x 0.5 = 5 tokens, one of them already spent
    assert bucket.seconds_until_token(0.0, factor=0.5) == pytest.approx(0.2)  # 5/s
    assert bucket.seconds_until_token(0.0) == pytest.approx(0.1)


# against the emulator ------------------------------------------------------------------------


def _queue(client: tasks_v2.CloudTasksClient, **overrides: Any) -> QueueSpec:
    values: dict[str, Any] = {"name": f"q-{uuid.uuid4().hex[:10]}", "max_dispatches_per_second": 100.0,
                              "max_concurrent_dispatches": 50, "max_attempts": 5, "min_backoff_seconds": 0.1,
                              "max_backoff_seconds": 5.0, "max_doublings": 4}
    values.update(overrides)
    spec = QueueSpec(**values)
    ensure_queue(client, PROJECT, LOCATION, spec)
    return spec


def _enqueue(client: tasks_v2.CloudTasksClient, spec: QueueSpec, url: str) -> None:
    client.create_task(parent=spec.queue_path(PROJECT, LOCATION),
                       task=tasks_v2.Task(http_request=tasks_v2.HttpRequest(url=url)))


def _queue_status(emulator: RunningEmulator, spec: QueueSpec) -> dict[str, Any]:
    queues = httpx.get(emulator.status_url, timeout=5).json()["queues"]
    return next(q for q in queues if q["name"] == spec.queue_path(PROJECT, LOCATION))


@pytest.fixture()
def client(cloudtasks_emulator: RunningEmulator) -> tasks_v2.CloudTasksClient:
    return tasks_client(cloudtasks_emulator.host)


@pytest.mark.parametrize("status", [503, 429])
def test_retry_after_delays_the_next_attempt(client: tasks_v2.CloudTasksClient, record_target: RecordTarget,
                                             status: int) -> None:
    spec = _queue(client)
    key = record_target.new_key()
    _enqueue(client, spec, record_target.url(key, fail_first=1, fail_status=status, retry_after=2))
    assert wait_until(lambda: len(record_target.for_key(key)) == 2, 6)
    first, second = record_target.for_key(key)
    assert second.at - first.at >= 2.0  # the normal schedule would retry after 0.1 s
    assert second.at - first.at < 3.0
    assert second.headers["x-cloudtasks-taskpreviousresponse"] == str(status)


def test_retry_after_as_an_http_date(client: tasks_v2.CloudTasksClient, record_target: RecordTarget) -> None:
    spec = _queue(client)
    key = record_target.new_key()
    until = formatdate(time.time() + 3, usegmt=True)  # whole seconds: at least 2 s from now
    _enqueue(client, spec, record_target.url(key, fail_first=1, fail_status=503, retry_after=until))
    assert wait_until(lambda: len(record_target.for_key(key)) == 2, 6)
    first, second = record_target.for_key(key)
    assert second.at - first.at >= 1.5


def test_429_without_retry_after_backs_off_harder_than_500(client: tasks_v2.CloudTasksClient,
                                                           record_target: RecordTarget) -> None:
    spec = _queue(client, min_backoff_seconds=0.3, max_doublings=4)
    throttled, failed = record_target.new_key(), record_target.new_key()
    _enqueue(client, spec, record_target.url(throttled, fail_first=1, fail_status=429))
    _enqueue(client, spec, record_target.url(failed, fail_first=1, fail_status=500))
    assert wait_until(lambda: len(record_target.for_key(throttled)) == 2 and len(record_target.for_key(failed)) == 2, 6)
    gap_429 = record_target.for_key(throttled)[1].at - record_target.for_key(throttled)[0].at
    gap_500 = record_target.for_key(failed)[1].at - record_target.for_key(failed)[0].at
    assert gap_429 >= 0.55  # the schedule's second step (0.6 s), not its first (0.3 s)
    assert gap_500 < gap_429


def test_a_503_slows_the_whole_queue_for_a_while(client: tasks_v2.CloudTasksClient, record_target: RecordTarget,
                                                 cloudtasks_emulator: RunningEmulator) -> None:
    spec = _queue(client, max_dispatches_per_second=20.0, max_burst_size=1, min_backoff_seconds=1.0)
    signal, work = record_target.new_key(), record_target.new_key()
    _enqueue(client, spec, record_target.url(signal, fail_first=1, fail_status=503))
    assert wait_until(lambda: _queue_status(cloudtasks_emulator, spec)["throttled_responses"] == 1, 5)
    status = _queue_status(cloudtasks_emulator, spec)
    assert status["system_throttle_factor"] == 0.5 and status["effective_dispatches_per_second"] == 10.0
    assert status["max_dispatches_per_second"] == 20.0  # the queue's own settings are unchanged
    for _ in range(16):
        _enqueue(client, spec, record_target.url(work))
    assert wait_until(lambda: len(record_target.for_key(work)) == 16, 6)
    times = sorted(h.at for h in record_target.for_key(work))
    # 10/s while throttled (20/s configured): intervals of 0.1 s, not 0.05 s.
    assert statistics.median(b - a for a, b in itertools.pairwise(times)) >= 0.09
    assert times[-1] - times[0] >= 1.35
    assert tasks_v2.Queue(client.get_queue(name=spec.queue_path(PROJECT, LOCATION))).rate_limits \
        .max_dispatches_per_second == 20.0


def test_the_queue_recovers_its_rate(log_dir: Any, oidc_fixture: IdentityServer, record_target: RecordTarget) -> None:
    emulator = start_emulator(log_dir, "cloudtasks-fast-recovery", oidc_fixture.mint_oidc_url,
                              "--throttle-recovery-seconds", "0.5")
    try:
        client = tasks_client(emulator.host)
        spec = _queue(client, max_attempts=1)
        key = record_target.new_key()
        for _ in range(2):
            _enqueue(client, spec, record_target.url(key, status=503))
        assert wait_until(lambda: _queue_status(emulator, spec)["throttled_responses"] == 2, 5)
        assert _queue_status(emulator, spec)["system_throttle_factor"] <= 0.5
        assert wait_until(lambda: _queue_status(emulator, spec)["system_throttle_factor"] == 1.0, 3)
    finally:
        emulator.process.stop()
