"""Fixtures that start real servers: the Firestore emulator, the local identity, the
functions served by functions-framework. Each starts once per session, on free ports,
and only when a test asks for it."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtools.emulators import clear_firestore, firestore_emulator
from devtools.identity import IdentityServer, LocalIdentity
from devtools.processes import ManagedProcess, free_port

REPO = Path(__file__).resolve().parent.parent


def pytest_sessionstart(session: pytest.Session) -> None:
    """Once per run, in the process that runs or distributes the tests (a pytest-xdist
    worker has `workerinput`): the last run's console screenshots go."""
    if hasattr(session.config, "workerinput"):
        return
    for old in (REPO / "build" / "screenshots").glob("*.png"):
        old.unlink(missing_ok=True)
PROJECT = "tributary-test"
REGION = "europe-west1"
SCHEDULER_SA = "scheduler@tributary-test.iam.gserviceaccount.com"
TASKS_SA = "tasks-invoker@tributary-test.iam.gserviceaccount.com"
ALLOWED_DOMAIN = "example.com"
#: the credentials KEKs of every test process (fixed, public test keys: never real ones).
#: test-1 is current; test-0 still unwraps, as during a rotation (tests rewrap from it).
TEST_CREDENTIALS_KEYS = (
    "test-1:zoyB9h3fv_EH6OWWt0PpU0vFgpbKrdCIB7cda9LnvOg,test-0:eYrTEHUgQD4ezeHh6SiHe0lGyWkEZk8EK1wtA6ZbwKg"
)
#: demo connectors (per-user, OAuth) the connection tests use besides the registry's
TEST_EXTRA_CONNECTORS = "tests.demo_connectors"


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = Path(os.environ.get("TRIBUTARY_TEST_LOGS") or tmp_path_factory.mktemp("logs"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def identity() -> Iterator[IdentityServer]:
    server = IdentityServer(LocalIdentity(PROJECT)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def firestore_host(log_dir: Path) -> Iterator[str]:
    port = free_port()
    proc = firestore_emulator(port, log_dir).start()
    host = f"127.0.0.1:{port}"
    os.environ["FIRESTORE_EMULATOR_HOST"] = host
    yield host
    proc.stop()


@pytest.fixture()
def clean_firestore(firestore_host: str) -> str:
    clear_firestore(firestore_host, PROJECT)
    return firestore_host


def base_env(functions_base_url: str, identity: IdentityServer) -> dict[str, str]:
    """The environment every function process gets in tests."""
    return {
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "FUNCTION_REGION": REGION,
        "TRIBUTARY_ENV": "test",
        "ALLOWED_DOMAINS": ALLOWED_DOMAIN,
        "FUNCTIONS_BASE_URL": functions_base_url,
        "FIREBASE_CERTS_URL": identity.firebase_certs_url,
        "GOOGLE_OIDC_CERTS_URL": identity.oidc_certs_url,
        "SCHEDULER_SERVICE_ACCOUNT": SCHEDULER_SA,
        "TASKS_SERVICE_ACCOUNT": TASKS_SA,
        "LOG_LEVEL": "INFO",
        "CREDENTIALS_KEYS": TEST_CREDENTIALS_KEYS,
        "TRIBUTARY_EXTRA_CONNECTORS": TEST_EXTRA_CONNECTORS,
    }


@pytest.fixture()
def settings_env(monkeypatch: pytest.MonkeyPatch, identity: IdentityServer) -> dict[str, str]:
    """In-process settings pointing at the local identity (for unit-level API tests)."""
    from shared.config import get_settings

    env = base_env(f"http://127.0.0.1:5001/{PROJECT}/{REGION}", identity)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def functions_url(log_dir: Path, identity: IdentityServer, firestore_host: str) -> Iterator[str]:
    """Every function served by functions-framework on one port, as in the local stack."""
    port = free_port()
    base = f"http://127.0.0.1:{port}/{PROJECT}/{REGION}"
    env = {**os.environ, **base_env(base, identity), "PYTHONPATH": str(REPO)}
    env["FIRESTORE_EMULATOR_HOST"] = firestore_host
    proc = ManagedProcess(
        "functions",
        [sys.executable, "-m", "devtools.functions_server", "--port", str(port)],
        port=port,
        env=env,
        log_dir=log_dir,
        cwd=REPO,
    ).start()
    yield base
    proc.stop()


@pytest.fixture()
def api(functions_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=functions_url, timeout=30) as client:
        yield client
