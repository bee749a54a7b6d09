"""The sync path on real servers: sandbox Intercom, Cloud Tasks emulator and a functions
server (restartable, so a test can kill the worker mid-run), on the session's Firestore
emulator and local identity."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from devtools.identity import IdentityServer
from devtools.processes import ManagedProcess, free_port
from tests.conftest import PROJECT, REGION, REPO, SCHEDULER_SA, base_env

SANDBOX_TOKEN = "sandbox-token"


@dataclass
class SyncStack:
    identity: IdentityServer
    firestore_host: str
    log_dir: Path
    sandbox_size: dict[str, int]
    sandbox_rate_limit: int = 6000
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    #: the Intercom connection made through the connections API (see connect())
    connection_id: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.functions_port = free_port()
        self.tasks_port = free_port()
        self.sandbox_port = free_port()
        self.functions_url = f"http://127.0.0.1:{self.functions_port}/{PROJECT}/{REGION}"
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"
        self.env = {
            **os.environ,
            **base_env(self.functions_url, self.identity),
            "PYTHONPATH": str(REPO),
            "FIRESTORE_EMULATOR_HOST": self.firestore_host,
            "CLOUD_TASKS_EMULATOR_HOST": f"127.0.0.1:{self.tasks_port}",
            "SYNC_STALL_AFTER_S": "3",
            **self.extra_env,
        }

    # -- processes ---------------------------------------------------------------------

    def start(self) -> SyncStack:
        self.start_sandbox("sandbox", self.sandbox_port, SANDBOX_TOKEN, self.sandbox_size)
        self.start_tasks()
        self.start_functions()
        self.create_queue()
        return self

    def start_sandbox(self, name: str, port: int, token: str, size: dict[str, int], seed: int = 7) -> None:
        self.processes[name] = ManagedProcess(
            f"sync-{name}",
            [sys.executable, "-m", "devtools.sandboxes.intercom", "--port", str(port), "--token", token,
             "--contacts", str(size["contacts"]), "--companies", str(size["companies"]),
             "--admins", str(size["admins"]), "--conversations", str(size["conversations"]),
             "--rate-limit", str(self.sandbox_rate_limit), "--seed", str(seed)],
            port=port, env=self.env, log_dir=self.log_dir, cwd=REPO,
        ).start()

    def start_tasks(self) -> None:
        self.processes["tasks"] = ManagedProcess(
            "sync-cloudtasks",
            [sys.executable, "-m", "devtools.cloudtasks_emulator", "--port", str(self.tasks_port),
             "--oidc-mint-url", self.identity.mint_oidc_url],
            port=self.tasks_port, env=self.env, log_dir=self.log_dir, cwd=REPO,
        ).start()

    def kill_tasks(self) -> None:
        self.processes["tasks"].kill()

    def start_functions(self) -> None:
        self.processes["functions"] = ManagedProcess(
            "sync-functions",
            [sys.executable, "-m", "devtools.functions_server", "--port", str(self.functions_port)],
            port=self.functions_port, env=self.env, log_dir=self.log_dir, cwd=REPO,
        ).start()

    def kill_functions(self) -> None:
        self.processes["functions"].kill()

    def stop(self) -> None:
        for proc in reversed(list(self.processes.values())):
            proc.stop()

    # -- queues --------------------------------------------------------------------------

    def tasks_client(self) -> Any:
        from shared.tasks import tasks_client

        return tasks_client(self.env["CLOUD_TASKS_EMULATOR_HOST"])

    def create_queue(self, **overrides: Any) -> None:
        """The connector's queue at the sandbox's budget; tests shorten the backoff."""
        from shared.sync.queues import queue_spec
        from shared.sync.registry import connector
        from shared.tasks import ensure_queue

        spec = queue_spec(connector("intercom"), requests_per_minute=self.sandbox_rate_limit)
        spec = spec.model_copy(update={"min_backoff_seconds": 0.5, "max_backoff_seconds": 4.0, **overrides})
        ensure_queue(self.tasks_client(), PROJECT, REGION, spec)

    # -- the sandbox -----------------------------------------------------------------------

    def sandbox(self) -> httpx.Client:
        return httpx.Client(base_url=self.sandbox_url, headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"}, timeout=30)

    def reset_sandbox(self, **faults: Any) -> None:
        with self.sandbox() as s:
            s.post("/_sandbox/reset", json=dict(self.sandbox_size)).raise_for_status()
        self.set_faults(**faults)

    def set_faults(self, **faults: Any) -> None:
        with self.sandbox() as s:
            s.post("/_sandbox/faults", json={"error_rate": 0, "drop_rate": 0, "latency_ms": 0, **faults}).raise_for_status()

    def sandbox_counts(self) -> dict[str, int]:
        with self.sandbox() as s:
            counts = s.get("/_sandbox/counts").json()
        return {k: (v["count"] if isinstance(v, dict) else v) for k, v in counts.items() if k in ("contacts", "companies", "admins", "conversations")}

    # -- the API ---------------------------------------------------------------------------

    def api(self, role: str = "admin") -> httpx.Client:
        token = self.identity.identity.id_token(f"{role}@example.com", role=role)
        return httpx.Client(base_url=self.functions_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)

    def connect(self, token: str = SANDBOX_TOKEN, base_url: str | None = None, name: str = "Sandbox Intercom") -> str:
        """Create an Intercom connection through the connections API; the first one made
        becomes this stack's default connection."""
        body = {"vendor": "intercom", "name": name, "owner": "org",
                "config": {"base_url": base_url or self.sandbox_url}, "credentials": {"access_token": token}}
        with self.api() as api:
            response = api.post("/connections", json=body)
        assert response.status_code == 201, response.text
        connection_id = response.json()["id"]
        self.connection_id = self.connection_id or connection_id
        return connection_id

    def start_sync(self, mode: str = "auto", connection_id: str | None = None) -> str:
        if not self.connection_id:
            self.connect()
        with self.api() as api:
            response = api.post("/sync-now", json={"connection_id": connection_id or self.connection_id, "mode": mode})
        assert response.status_code == 202, response.text
        return response.json()["run_id"]

    def run(self, run_id: str, connection_id: str | None = None) -> dict[str, Any]:
        with self.api("member") as api:
            response = api.get(f"/sync-runs/{run_id}", params={"connection_id": connection_id or self.connection_id})
        assert response.status_code == 200, response.text
        return response.json()

    def wait(self, run_id: str, timeout_s: float = 120, connection_id: str | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            run = self.run(run_id, connection_id)
            if run["status"] in ("succeeded", "partial", "failed"):
                return run
            time.sleep(0.3)
        raise TimeoutError(f"run {run_id} did not finish in {timeout_s}s: {self.run(run_id, connection_id)}")

    def sync(self, mode: str = "auto", timeout_s: float = 120) -> dict[str, Any]:
        return self.wait(self.start_sync(mode), timeout_s)

    def run_ids(self, connection_id: str | None = None) -> list[str]:
        with self.api("member") as api:
            response = api.get("/sync-runs", params={"connection_id": connection_id or self.connection_id})
        return [r["run_id"] for r in response.json()["runs"]]

    def tick(self) -> dict[str, Any]:
        """What Cloud Scheduler does every few minutes."""
        url = f"{self.functions_url}/sync-scheduler"
        token = self.identity.identity.oidc_token(url, SCHEDULER_SA)
        response = httpx.post(url, json={}, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()

    def stored(self, stream: str, connection_id: str | None = None, include_deleted: bool = False) -> dict[str, dict[str, Any]]:
        from google.cloud import firestore

        db = firestore.Client(project=PROJECT)
        coll = db.collection("connections").document(connection_id or self.connection_id).collection(stream)
        docs = {snap.id: snap.to_dict() or {} for snap in coll.stream()}
        return {k: v for k, v in docs.items() if include_deleted or not v.get("_deleted")}
