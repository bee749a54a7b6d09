"""The sync path on real servers: every registered sandbox vendor, Cloud Tasks emulator and
a functions server (restartable, so a test can kill the worker mid-run), on the session's
Firestore emulator and local identity.

Sandboxes come from devtools/sandboxes/registry.py (plus TRIBUTARY_EXTRA_SANDBOXES in
`extra_env`), each on a free port, and their connections from their descriptors: nothing
here names a vendor except the default one the sync tests use.
"""

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
from devtools.sandboxes.kit.descriptor import Launch, SandboxDescriptor
from devtools.sandboxes.registry import EXTRA_ENV, all_sandboxes, extra_modules
from tests.conftest import PROJECT, REGION, REPO, SCHEDULER_SA, base_env

#: the vendor the sync tests exercise when they name none
DEFAULT_VENDOR = "intercom"


@dataclass
class SyncStack:
    identity: IdentityServer
    firestore_host: str
    log_dir: Path
    sandbox_size: dict[str, int]
    sandbox_rate_limit: int = 6000
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    #: the default connection (the first connect() made: the default vendor's, see connect_all())
    connection_id: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.functions_port = free_port()
        self.tasks_port = free_port()
        self.functions_url = f"http://127.0.0.1:{self.functions_port}/{PROJECT}/{REGION}"
        self.env = {
            **os.environ,
            **base_env(self.functions_url, self.identity),
            "PYTHONPATH": str(REPO),
            "FIRESTORE_EMULATOR_HOST": self.firestore_host,
            "CLOUD_TASKS_EMULATOR_HOST": f"127.0.0.1:{self.tasks_port}",
            "SYNC_STALL_AFTER_S": "3",
            **self.extra_env,
        }
        extra = extra_modules(self.env.get(EXTRA_ENV, ""))
        #: every registered sandbox by vendor, and the port and URL each one gets
        self.sandboxes: dict[str, SandboxDescriptor] = {d.vendor: d for d in all_sandboxes(extra)}
        self.sandbox_ports = {vendor: free_port() for vendor in self.sandboxes}
        self.sandbox_urls = {vendor: f"http://127.0.0.1:{port}" for vendor, port in self.sandbox_ports.items()}
        self.sandbox_port = self.sandbox_ports[DEFAULT_VENDOR]
        self.sandbox_url = self.sandbox_urls[DEFAULT_VENDOR]
        #: vendor -> connection id, filled by connect_all()
        self.connections: dict[str, str] = {}

    # -- processes ---------------------------------------------------------------------

    def start(self) -> SyncStack:
        """Every sandbox, the Tasks emulator, the functions and every sandbox vendor's queue."""
        for vendor, sandbox in self.sandboxes.items():
            self.start_sandbox(self.sandbox_process(vendor), self.sandbox_ports[vendor], sandbox.token,
                               self.sandbox_size, vendor=vendor)
        self.start_tasks()
        self.start_functions()
        self.create_queue()
        return self

    @staticmethod
    def sandbox_process(vendor: str) -> str:
        """The key of `vendor`'s sandbox in `processes`."""
        return f"sandbox-{vendor}"

    def start_sandbox(self, name: str, port: int, token: str, size: dict[str, int], seed: int = 7,
                      vendor: str = DEFAULT_VENDOR) -> None:
        """`vendor`'s sandbox as processes[name] (a second one of a vendor needs another name)."""
        sandbox = self.sandboxes[vendor]
        launch = Launch(port=port, token=token, size=size, seed=seed, rate_limit=self.sandbox_rate_limit)
        self.processes[name] = ManagedProcess(
            f"sync-{name}", sandbox.argv(launch), port=port, env=self.env, log_dir=self.log_dir, cwd=REPO,
            ready_timeout_s=sandbox.ready_timeout_s,
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

    def connector(self, vendor: str) -> Any:
        """`vendor`'s connector: the registry's, or one the functions' TRIBUTARY_EXTRA_CONNECTORS add."""
        import importlib

        from shared.sync.registry import connector, vendors

        if vendor in vendors():
            return connector(vendor)
        for module in filter(None, self.env.get("TRIBUTARY_EXTRA_CONNECTORS", "").split(",")):
            for found in getattr(importlib.import_module(module.strip()), "CONNECTORS", ()):
                if found.vendor == vendor:
                    return found
        raise KeyError(f"no connector for {vendor!r}")

    def create_queue(self, vendor: str | None = None, **overrides: Any) -> None:
        """`vendor`'s queues (None: every sandbox vendor's) at the sandbox's budget; tests
        shorten the backoff."""
        from shared.sync.queues import queue_specs
        from shared.tasks import ensure_queue

        for each in [vendor] if vendor else list(self.sandboxes):
            for spec in queue_specs(self.connector(each), requests_per_minute=self.sandbox_rate_limit):
                spec = spec.model_copy(update={"min_backoff_seconds": 0.5, "max_backoff_seconds": 4.0, **overrides})
                ensure_queue(self.tasks_client(), PROJECT, REGION, spec)

    # -- the sandboxes ----------------------------------------------------------------------

    def sandbox(self, vendor: str = DEFAULT_VENDOR, token: str | None = None) -> httpx.Client:
        """A client of `vendor`'s sandbox, authenticated as its descriptor says."""
        sandbox = self.sandboxes[vendor]
        return httpx.Client(base_url=self.sandbox_urls[vendor], headers=sandbox.headers(token or sandbox.token),
                            timeout=30)

    def reset_sandbox(self, vendor: str = DEFAULT_VENDOR, **faults: Any) -> None:
        """Regenerate `vendor`'s data at the stack's size, then set `faults` (none by default)."""
        with self.sandbox(vendor) as s:
            # generating a million records takes minutes on a shared machine (bench.scale)
            s.post("/_sandbox/reset", json=self.sandboxes[vendor].sizes_for(self.sandbox_size),
                   timeout=1800).raise_for_status()
        self.set_faults(vendor, **faults)

    def set_faults(self, vendor: str = DEFAULT_VENDOR, **faults: Any) -> None:
        with self.sandbox(vendor) as s:
            s.post("/_sandbox/faults", json={"error_rate": 0, "drop_rate": 0, "latency_ms": 0, **faults}).raise_for_status()

    def sandbox_counts(self, vendor: str = DEFAULT_VENDOR) -> dict[str, int]:
        """The sandbox's record counts, for the sizes it declares."""
        with self.sandbox(vendor) as s:
            counts = s.get("/_sandbox/counts").json()
        sizes = self.sandboxes[vendor].sizes
        return {k: (v["count"] if isinstance(v, dict) else v) for k, v in counts.items() if k in sizes}

    # -- the API ---------------------------------------------------------------------------

    def api(self, role: str = "admin") -> httpx.Client:
        token = self.identity.identity.id_token(f"{role}@example.com", role=role)
        return httpx.Client(base_url=self.functions_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)

    def connect(self, token: str | None = None, base_url: str | None = None, name: str | None = None,
                vendor: str = DEFAULT_VENDOR) -> str:
        """Create a connection to `vendor`'s sandbox (or `base_url`) through the connections
        API, with the body its descriptor gives; the first one made becomes this stack's
        default connection."""
        body = self.sandboxes[vendor].connection(base_url or self.sandbox_urls[vendor], token, name)
        with self.api() as api:
            response = api.post("/connections", json=body)
        assert response.status_code == 201, response.text
        connection_id = str(response.json()["id"])
        self.connection_id = self.connection_id or connection_id
        return connection_id

    def connect_all(self) -> dict[str, str]:
        """One connection per sandbox (the default vendor's first, so it is the default
        connection): vendor -> connection id, also kept in `connections`."""
        order = sorted(self.sandboxes, key=lambda vendor: vendor != DEFAULT_VENDOR)
        self.connections = {vendor: self.connect(vendor=vendor) for vendor in order}
        return self.connections

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
