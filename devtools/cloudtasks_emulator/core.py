"""The emulator's state and Cloud Tasks' semantics; the gRPC service is a thin adapter over it.

One lock (a Condition) guards everything. A scheduler thread wakes when a task falls due,
a token refills or an attempt ends, and starts each attempt on its own thread so a queue
runs up to max_concurrent_dispatches requests at once. Answers 429/503 trigger system
throttling (throttle.py): a longer wait for the task, Retry-After honoured, a slower queue.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.cloud import tasks_v2
from google.rpc import status_pb2

from devtools.cloudtasks_emulator import queues
from devtools.cloudtasks_emulator.backoff import RetryPolicy, backoff_seconds, should_give_up
from devtools.cloudtasks_emulator.delivery import Outcome, Request, Sender
from devtools.cloudtasks_emulator.names import (
    ApiError,
    check_location,
    generated_task_id,
    short_name,
    split_queue,
    split_task,
)
from devtools.cloudtasks_emulator.ratelimit import TokenBucket
from devtools.cloudtasks_emulator.throttle import (
    RECOVERY_S,
    THROTTLING_STATUSES,
    SystemThrottle,
    throttled_retry_delay,
)

log = logging.getLogger("cloudtasks_emulator")

# Called, not just referenced: proto-plus enum members read as plain ints to type checkers.
RUNNING = tasks_v2.Queue.State(tasks_v2.Queue.State.RUNNING)
PAUSED = tasks_v2.Queue.State(tasks_v2.Queue.State.PAUSED)
_STATES = {name: tasks_v2.Queue.State(value) for name, value in tasks_v2.Queue.State.__members__.items()}
DEFAULT_DEADLINE_S = 600.0
MIN_DEADLINE_S, MAX_DEADLINE_S = 15.0, 1800.0
MAX_SCHEDULE_AHEAD_S = 30 * 86400
MAX_TASK_BYTES = 1024 * 1024
_BODY_METHODS = {"POST", "PUT", "PATCH"}


def _ts(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, tz=UTC)


def _not_found(what: str) -> ApiError:
    return ApiError(grpc.StatusCode.NOT_FOUND, f"{what} does not exist")


@dataclass
class TaskState:
    task: tasks_v2.Task
    request: Request
    due: float
    running: int = 0
    execution_count: int = 0  # responses that were not 5xx (X-CloudTasks-TaskExecutionCount)
    previous_response: int | None = None
    retry_reason: str | None = None
    first_attempt_at: float | None = None


@dataclass
class QueueState:
    queue: tasks_v2.Queue
    bucket: TokenBucket
    policy: RetryPolicy
    max_concurrent: int
    tasks: dict[str, TaskState] = field(default_factory=dict)
    running: int = 0
    dispatched: int = 0
    completed: int = 0
    dropped: int = 0
    throttle: SystemThrottle = field(default_factory=SystemThrottle)
    throttled_responses: int = 0

    @property
    def name(self) -> str:
        return str(self.queue.name)

    def configure(self, queue: tasks_v2.Queue) -> None:
        self.queue = queue
        self.policy = queues.retry_policy(queue)
        self.max_concurrent = queue.rate_limits.max_concurrent_dispatches
        self.bucket.reconfigure(queue.rate_limits.max_dispatches_per_second, queue.rate_limits.max_burst_size)


def _new_queue_state(queue: tasks_v2.Queue, recovery_s: float) -> QueueState:
    rl = queue.rate_limits
    return QueueState(
        queue=queue,
        bucket=TokenBucket(rl.max_dispatches_per_second, rl.max_burst_size),
        policy=queues.retry_policy(queue),
        max_concurrent=rl.max_concurrent_dispatches,
        throttle=SystemThrottle(recovery_s=recovery_s),
    )


class Emulator:
    def __init__(self, sender: Sender, *, tombstone_s: float = 3600.0, history: int = 500,
                 throttle_recovery_s: float = RECOVERY_S) -> None:
        self._sender = sender
        self._tombstone_s = tombstone_s
        self._recovery_s = throttle_recovery_s
        self._cv = threading.Condition()
        self._queues: dict[str, QueueState] = {}
        self._tombstones: dict[str, float] = {}
        self._tombstone_order: deque[tuple[float, str]] = deque()
        self._dropped: deque[dict[str, Any]] = deque(maxlen=history)
        self._stopping = False
        self._scheduler = threading.Thread(target=self._run, name="scheduler", daemon=True)

    # lifecycle -------------------------------------------------------------------------

    def start(self) -> Emulator:
        self._scheduler.start()
        return self

    def stop(self) -> None:
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        self._scheduler.join(timeout=5)

    # queues ----------------------------------------------------------------------------

    def create_queue(self, parent: str, queue: tasks_v2.Queue) -> tasks_v2.Queue:
        check_location(parent)
        location, _ = split_queue(queue.name)
        if location != parent:
            raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, "the queue name must start with the parent")
        normalized = queues.normalize(queue)
        normalized.state = RUNNING
        with self._cv:
            if normalized.name in self._queues:
                raise ApiError(grpc.StatusCode.ALREADY_EXISTS, f"queue {normalized.name} already exists")
            self._queues[normalized.name] = _new_queue_state(normalized, self._recovery_s)
            return queues.clone_queue(normalized)

    def get_queue(self, name: str) -> tasks_v2.Queue:
        with self._cv:
            return queues.clone_queue(self._queue(name).queue)

    def list_queues(
        self, parent: str, filter_: str, page_size: int, page_token: str
    ) -> tuple[list[tasks_v2.Queue], str]:
        check_location(parent)
        state = _state_filter(filter_)
        with self._cv:
            found = [
                queues.clone_queue(qs.queue)
                for name, qs in sorted(self._queues.items())
                if name.startswith(parent + "/queues/") and (state is None or qs.queue.state == state)
            ]
        return _page(found, page_size, page_token, default=100, maximum=9800)

    def update_queue(self, queue: tasks_v2.Queue, paths: list[str]) -> tasks_v2.Queue:
        """Like Cloud Tasks, updating a queue that does not exist creates it."""
        split_queue(queue.name)
        with self._cv:
            qs = self._queues.get(queue.name)
            if qs is None:
                created = queues.normalize(queue)
                created.state = RUNNING
                self._queues[created.name] = _new_queue_state(created, self._recovery_s)
                return queues.clone_queue(created)
            merged = queues.apply_update(qs.queue, queue, paths)
            qs.configure(merged)
            self._cv.notify_all()
            return queues.clone_queue(merged)

    def delete_queue(self, name: str) -> None:
        with self._cv:
            qs = self._queue(name)
            self._drop_all_tasks(qs)
            del self._queues[name]

    def purge_queue(self, name: str) -> tasks_v2.Queue:
        with self._cv:
            qs = self._queue(name)
            self._drop_all_tasks(qs)
            qs.queue.purge_time = _ts(time.time())
            return queues.clone_queue(qs.queue)

    def set_paused(self, name: str, paused: bool) -> tasks_v2.Queue:
        with self._cv:
            qs = self._queue(name)
            qs.queue.state = PAUSED if paused else RUNNING
            self._cv.notify_all()
            return queues.clone_queue(qs.queue)

    # tasks -----------------------------------------------------------------------------

    def create_task(self, parent: str, task: tasks_v2.Task, view: int) -> tasks_v2.Task:
        split_queue(parent)
        created = _clone_task(task)
        if created.name:
            queue_name, _ = split_task(created.name)
            if queue_name != parent:
                raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, "the task name must start with the parent")
        else:
            created.name = f"{parent}/tasks/{generated_task_id()}"
        now = time.time()
        request, due = _validated(created, now)
        created.create_time = _ts(now)
        created.schedule_time = _ts(due)
        created.dispatch_deadline = timedelta(seconds=request.deadline_s)
        with self._cv:
            qs = self._queue(parent)
            self._expire_tombstones(now)
            if created.name in qs.tasks or created.name in self._tombstones:
                raise ApiError(
                    grpc.StatusCode.ALREADY_EXISTS,
                    "the task name is in use or was used recently (names stay reserved after a task ends)",
                )
            qs.tasks[created.name] = TaskState(task=created, request=request, due=due)
            self._cv.notify_all()
            return _view(created, view)

    def get_task(self, name: str, view: int) -> tasks_v2.Task:
        with self._cv:
            return _view(self._task(name)[1].task, view)

    def list_tasks(
        self, parent: str, view: int, page_size: int, page_token: str
    ) -> tuple[list[tasks_v2.Task], str]:
        with self._cv:
            qs = self._queue(parent)
            ordered = sorted(qs.tasks.values(), key=lambda ts: (ts.due, ts.task.name))
            found = [_view(ts.task, view) for ts in ordered]
        return _page(found, page_size, page_token, default=1000, maximum=1000)

    def delete_task(self, name: str) -> None:
        """An attempt already in flight finishes, but its result is ignored."""
        with self._cv:
            qs, _ = self._task(name)
            del qs.tasks[name]
            self._tombstone(name, time.time())

    def run_task(self, name: str, view: int) -> tasks_v2.Task:
        """Dispatch now, ignoring pause, rate limits and a running attempt (as RunTask does)."""
        with self._cv:
            qs, ts = self._task(name)
            self._start_attempt(qs, ts, time.time())
            return _view(ts.task, view)

    # status ----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        with self._cv:
            now, mono = time.time(), time.monotonic()
            listed = []
            for name, qs in sorted(self._queues.items()):
                waiting = [ts.due for ts in qs.tasks.values() if ts.running == 0]
                listed.append(
                    {
                        "name": name,
                        "state": tasks_v2.Queue.State(qs.queue.state).name,
                        "pending": len(qs.tasks) - sum(1 for ts in qs.tasks.values() if ts.running),
                        "due": sum(1 for due in waiting if due <= now),
                        "running": qs.running,
                        "dispatched": qs.dispatched,
                        "completed": qs.completed,
                        "dropped": qs.dropped,
                        "max_dispatches_per_second": qs.queue.rate_limits.max_dispatches_per_second,
                        "max_burst_size": qs.queue.rate_limits.max_burst_size,
                        "max_concurrent_dispatches": qs.max_concurrent,
                        "system_throttle_factor": qs.throttle.factor(mono),
                        "effective_dispatches_per_second": qs.queue.rate_limits.max_dispatches_per_second
                        * qs.throttle.factor(mono),
                        "throttled_responses": qs.throttled_responses,
                        "next_eta_in_s": round(min(waiting) - now, 3) if waiting else None,
                    }
                )
            return {"queues": listed, "dropped_tasks": list(self._dropped)}

    # dispatch --------------------------------------------------------------------------

    def _run(self) -> None:
        with self._cv:
            while not self._stopping:
                wait = self._dispatch_due()
                self._cv.wait(timeout=min(wait, 1.0))

    def _dispatch_due(self) -> float:
        """Start every attempt the limits allow now; return how long until one may be allowed."""
        now, mono = time.time(), time.monotonic()
        wait = float("inf")
        for qs in self._queues.values():
            if qs.queue.state != RUNNING:
                continue
            idle = sorted(
                (ts for ts in qs.tasks.values() if ts.running == 0), key=lambda ts: (ts.due, ts.task.name)
            )
            factor = qs.throttle.factor(mono)
            for ts in idle:
                if ts.due > now:
                    wait = min(wait, ts.due - now)
                    break
                if qs.running >= qs.max_concurrent:
                    break  # an attempt ending notifies us
                if not qs.bucket.try_take(mono, factor):
                    wait = min(wait, qs.bucket.seconds_until_token(mono, factor))
                    break
                self._start_attempt(qs, ts, now)
        return max(wait, 0.001)

    def _start_attempt(self, qs: QueueState, ts: TaskState, now: float) -> None:
        task = ts.task
        headers = {
            "X-CloudTasks-QueueName": short_name(qs.name),
            "X-CloudTasks-TaskName": short_name(task.name),
            "X-CloudTasks-TaskRetryCount": str(task.dispatch_count),
            "X-CloudTasks-TaskExecutionCount": str(ts.execution_count),
            "X-CloudTasks-TaskETA": f"{ts.due:.6f}",
        }
        if task.dispatch_count > 0:
            if ts.previous_response is not None:
                headers["X-CloudTasks-TaskPreviousResponse"] = str(ts.previous_response)
            if ts.retry_reason:
                headers["X-CloudTasks-TaskRetryReason"] = ts.retry_reason
        task.dispatch_count += 1
        if ts.first_attempt_at is None:
            ts.first_attempt_at = now
            task.first_attempt = tasks_v2.Attempt(dispatch_time=_ts(now))
        ts.running += 1
        qs.running += 1
        qs.dispatched += 1
        threading.Thread(
            target=self._attempt, args=(qs, ts, headers, ts.due, now), name="attempt", daemon=True
        ).start()

    def _attempt(self, qs: QueueState, ts: TaskState, headers: dict[str, str], eta: float, at: float) -> None:
        try:
            outcome = self._sender.send(ts.request, headers)
        except Exception as exc:  # a bug here must not leak the in-flight slot
            log.exception("attempt for %s crashed", ts.task.name)
            outcome = Outcome(None, grpc.StatusCode.INTERNAL, f"emulator error: {exc}")
        with self._cv:
            self._finish(qs, ts, outcome, eta, at)
            self._cv.notify_all()

    def _finish(self, qs: QueueState, ts: TaskState, outcome: Outcome, eta: float, at: float) -> None:
        now = time.time()
        ts.running -= 1
        qs.running -= 1
        task = ts.task
        task.last_attempt = tasks_v2.Attempt(
            schedule_time=_ts(eta),
            dispatch_time=_ts(at),
            response_time=_ts(now),
            response_status=status_pb2.Status(code=outcome.code.value[0], message=outcome.message),
        )
        if outcome.http_status is not None:
            task.response_count += 1
            if outcome.http_status < 500:
                ts.execution_count += 1
        if outcome.http_status in THROTTLING_STATUSES:
            qs.throttle.signal(time.monotonic())  # the queue slows down for a while (throttle.py)
            qs.throttled_responses += 1
        if qs.tasks.get(task.name) is not ts or self._queues.get(qs.name) is not qs:
            return  # deleted or purged while in flight
        if outcome.ok:
            del qs.tasks[task.name]
            self._tombstone(task.name, now)
            qs.completed += 1
            log.debug("%s done after %d attempt(s)", task.name, task.dispatch_count)
            return
        ts.previous_response = outcome.http_status
        ts.retry_reason = outcome.retry_reason
        assert ts.first_attempt_at is not None
        if should_give_up(qs.policy, task.dispatch_count, ts.first_attempt_at, now):
            del qs.tasks[task.name]
            self._tombstone(task.name, now)
            qs.dropped += 1
            self._dropped.append(_dropped_record(qs, ts, outcome, now))
            log.warning("%s dropped after %d attempt(s): %s", task.name, task.dispatch_count, outcome.message)
            return
        delay = backoff_seconds(qs.policy, task.dispatch_count)
        if outcome.http_status in THROTTLING_STATUSES:
            # System throttling: one more step of the schedule, never before Retry-After.
            longer = backoff_seconds(qs.policy, task.dispatch_count + 1)
            delay = throttled_retry_delay(longer, outcome.retry_after_s)
        ts.due = now + delay
        task.schedule_time = _ts(ts.due)
        log.info(
            "%s attempt %d failed (%s); retry in %.3fs",
            task.name,
            task.dispatch_count,
            outcome.message,
            ts.due - now,
        )

    # helpers (lock held) ---------------------------------------------------------------

    def _queue(self, name: str) -> QueueState:
        split_queue(name)
        qs = self._queues.get(name)
        if qs is None:
            raise _not_found(f"queue {name}")
        return qs

    def _task(self, name: str) -> tuple[QueueState, TaskState]:
        queue_name, _ = split_task(name)
        qs = self._queue(queue_name)
        ts = qs.tasks.get(name)
        if ts is None:
            raise _not_found(f"task {name}")
        return qs, ts

    def _drop_all_tasks(self, qs: QueueState) -> None:
        now = time.time()
        for name in list(qs.tasks):
            self._tombstone(name, now)
        qs.tasks.clear()

    def _tombstone(self, name: str, now: float) -> None:
        if self._tombstone_s > 0:
            expires = now + self._tombstone_s
            self._tombstones[name] = expires
            self._tombstone_order.append((expires, name))

    def _expire_tombstones(self, now: float) -> None:
        while self._tombstone_order and self._tombstone_order[0][0] <= now:
            expires, name = self._tombstone_order.popleft()
            if self._tombstones.get(name) == expires:
                del self._tombstones[name]


def _clone_task(task: tasks_v2.Task) -> tasks_v2.Task:
    return tasks_v2.Task.deserialize(tasks_v2.Task.serialize(task))


def _view(task: tasks_v2.Task, view: int) -> tasks_v2.Task:
    """BASIC (the default) leaves out the body, which can be large or sensitive."""
    shown = _clone_task(task)
    full = view == tasks_v2.Task.View.FULL
    shown.view = tasks_v2.Task.View(tasks_v2.Task.View.FULL if full else tasks_v2.Task.View.BASIC)
    if not full:
        shown.http_request.body = b""
    return shown


def _validated(task: tasks_v2.Task, now: float) -> tuple[Request, float]:
    """The attempt template and first due time, or INVALID_ARGUMENT as Cloud Tasks would."""
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    if "http_request" not in task:
        raise ApiError(invalid, "the emulator supports http_request tasks only")
    if len(tasks_v2.Task.serialize(task)) > MAX_TASK_BYTES:
        raise ApiError(invalid, "the task is larger than 1 MB")
    http = task.http_request
    if not http.url.startswith(("http://", "https://")) or len(http.url) > 2083:
        raise ApiError(invalid, "http_request.url must be an http(s) URL of at most 2083 characters")
    method = "POST" if http.http_method == 0 else tasks_v2.HttpMethod(http.http_method).name
    if http.body and method not in _BODY_METHODS:
        raise ApiError(invalid, "a body is only allowed with POST, PUT or PATCH")
    if "oauth_token" in http:
        raise ApiError(
            grpc.StatusCode.UNIMPLEMENTED, "the emulator does not mint OAuth tokens; use oidc_token"
        )
    oidc_email = http.oidc_token.service_account_email if "oidc_token" in http else None
    if "oidc_token" in http and not oidc_email:
        raise ApiError(invalid, "oidc_token.service_account_email is required")
    deadline = task.dispatch_deadline.total_seconds() or DEFAULT_DEADLINE_S
    if not MIN_DEADLINE_S <= deadline <= MAX_DEADLINE_S:
        raise ApiError(invalid, "dispatch_deadline must be between 15 seconds and 30 minutes")
    due = task.schedule_time.timestamp() if task.schedule_time is not None else now
    if due > now + MAX_SCHEDULE_AHEAD_S:
        raise ApiError(invalid, "schedule_time can be at most 30 days in the future")
    request = Request(
        method=method,
        url=http.url,
        headers=dict(http.headers),
        body=bytes(http.body),
        deadline_s=deadline,
        oidc_email=oidc_email,
        oidc_audience=(http.oidc_token.audience or None) if oidc_email else None,
    )
    return request, max(due, now)


def _state_filter(filter_: str) -> int | None:
    if not filter_.strip():
        return None
    match = re.fullmatch(r"\s*state\s*[:=]\s*(RUNNING|PAUSED|DISABLED)\s*", filter_)
    if not match:
        raise ApiError(
            grpc.StatusCode.INVALID_ARGUMENT, "the emulator supports only 'state: RUNNING|PAUSED' filters"
        )
    return int(_STATES[match.group(1)])


def _page(
    items: list[Any], page_size: int, page_token: str, *, default: int, maximum: int
) -> tuple[list[Any], str]:
    if page_size < 0:
        raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, "page_size must not be negative")
    size = min(page_size or default, maximum)
    try:
        start = int(page_token) if page_token else 0
    except ValueError:
        raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, "invalid page_token") from None
    end = start + size
    return items[start:end], (str(end) if end < len(items) else "")


def _dropped_record(qs: QueueState, ts: TaskState, outcome: Outcome, now: float) -> dict[str, Any]:
    return {
        "queue": short_name(qs.name),
        "task": ts.task.name,
        "url": ts.request.url,
        "attempts": ts.task.dispatch_count,
        "responses": ts.task.response_count,
        "last_http_status": outcome.http_status,
        "last_status": outcome.code.name,
        "last_message": outcome.message,
        "first_attempt_at": ts.first_attempt_at,
        "dropped_at": now,
    }
