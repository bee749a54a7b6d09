"""A function must not import what it does not use.

Importing any function's module loads none of the heavy clients (they are imported inside
the handlers that use them), and neither does its first answer to a request without a token.

For the second, each function is imported in a fresh interpreter, as functions-framework
imports it, and answers GET / with no token: a 401 (protected), 404 (no such route), 405
(wrong method), 400 (oauth-callback without a state) or 200 (`openapi`, public: a file it
ships). None of those answers may load Firestore's or Firebase's clients, gRPC, Cloud Tasks,
cryptography or a connector's declarations: they cost 50-400 ms of CPU each on a cold start
(bench/cold_start.py). `health` is the one exception: its whole answer is a Firestore read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bench.cold_start import heavy_imports
from devtools.functions_catalog import REPO, deployed_name, function_dirs

VENDORS = sorted(p.name for p in (REPO / "shared" / "vendors").iterdir() if (p / "connector.py").is_file())
#: packages a refusal must not load: Google's and Firebase's clients, and the connectors'
#: declarations (each connector builds its models, requests and serving at import)
HEAVY = (
    "google.cloud.firestore",
    "google.cloud.firestore_v1",
    "firebase_admin",
    "grpc",
    "google.cloud.tasks_v2",
    "cryptography",
    "shared.vendors.connector",
    *(f"shared.vendors.{vendor}.connector" for vendor in VENDORS),
)
#: needs Firestore to answer at all
EXEMPT = {"health"}



@pytest.mark.parametrize("directory", function_dirs(), ids=lambda d: d.name)
def test_function_module_imports_no_heavy_client(directory: Path) -> None:
    assert heavy_imports(directory) == []


FIRST_REQUEST = """
import importlib.util, json, os, sys
import flask
spec = importlib.util.spec_from_file_location("main", sys.argv[1])
main = importlib.util.module_from_spec(spec)
spec.loader.exec_module(main)
with flask.Flask("cold").test_request_context("/", method="GET"):
    response = main.handle(flask.request)
print(json.dumps({"status": response.status_code, "modules": sorted(sys.modules)}))
"""


def first_request(directory: Path) -> dict[str, object]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "GOOGLE_CLOUD_PROJECT": "cold",
        "ALLOWED_DOMAINS": "example.com",
        "FUNCTIONS_BASE_URL": "http://127.0.0.1:1",
        "SCHEDULER_SERVICE_ACCOUNT": "s@cold.iam.gserviceaccount.com",
        "TASKS_SERVICE_ACCOUNT": "t@cold.iam.gserviceaccount.com",
    }
    env.pop("TRIBUTARY_EXTRA_CONNECTORS", None)
    result = subprocess.run(
        [sys.executable, "-c", FIRST_REQUEST, str(directory / "main.py")],
        env=env, capture_output=True, text=True, timeout=120, cwd=directory,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answer: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


def heavy(modules: list[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_no_function_loads_a_heavy_library_to_refuse_a_request_without_a_token() -> None:
    dirs = [d for d in function_dirs() if deployed_name(d) not in EXEMPT]
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = dict(zip([deployed_name(d) for d in dirs], pool.map(first_request, dirs), strict=True))
    statuses = {name: a["status"] for name, a in answers.items() if a["status"] not in (200, 400, 401, 404, 405)}
    assert statuses == {}
    loaded = {name: heavy(a["modules"]) for name, a in answers.items()}  # type: ignore[arg-type]
    assert {name: mods for name, mods in loaded.items() if mods} == {}
