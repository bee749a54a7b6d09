"""Cold start per function: process start -> first answered request, and what it imported.

    python -m bench.cold_start [--json] [--only NAME ...] [--python PATH] [--no-bytecode]

`--python` runs the functions on another interpreter, e.g. a clean virtualenv of
requirements/runtime.txt on production's Python (python312): the dev virtualenv also holds
test tools that libraries pick up when present (httpx loads its CLI's rich and pygments).

Each function is served alone by functions-framework (as Cloud Functions does) in a new
process, and timed to two first requests (each in its own new process):
- "no token": GET / without a token (a protected function answers 401 once loaded;
  `health` reads Firestore): what the function costs before it does any work;
- "signed in": its first route, with a real token (an admin's Firebase ID token, or the
  service account's OIDC token for machine routes, signed by devtools.identity and really
  verified), path ids `bench` and a `{}` body: token verification and the handler's
  Firestore reads (an empty database: most answer 404 or an empty page), i.e. a real first
  request's fixed costs.
Beside each, the ratio to a trivial functions-framework function's time (the baseline:
Python plus Flask plus functions-framework); the budget is 400 ms on an idle machine.

What is counted, and why:
- CPU of the whole process tree: functions-framework serves through gunicorn, whose master
  imports main.py and forks the worker that answers; the worker's CPU (the first request's
  own work) is part of the cold start. On a loaded machine wall time is mostly waiting for a
  core, so the CPU ms are the idle-machine estimate; wall ms are printed beside them.
- What is deployed: each function is served from its deploy bundle (devtools/bundles.py),
  built and extracted as Cloud Functions does, with our code's precompiled 3.12 bytecode
  (used when --python is a 3.12, as production's; PYTHONDONTWRITEBYTECODE=1, so nothing
  compiled during a run is kept for the next); the dependencies' .pyc are there, as the
  buildpack leaves them. `--no-bytecode` strips our .pyc from the extracted bundles (what
  was deployed before they shipped), for a before/after.

`--json` prints one JSON object last (bench/table.py reads it). Run: make bench
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from devtools.functions_catalog import deployed_name, function_dirs, load_endpoints
from devtools.identity import IdentityServer, LocalIdentity
from devtools.processes import free_port
from shared.api import Endpoint, ServiceAccount, Users

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("google.cloud.firestore", "firebase_admin", "google.cloud.tasks_v2", "grpc")
RUNS = int(os.environ.get("COLD_START_RUNS", "3"))
#: the interpreter that serves the functions (--python)
PYTHON = sys.executable
#: serve the bundles with the bytecode they ship (--no-bytecode: without)
BYTECODE = True


def default_python(repo: Path = REPO) -> str:
    """The clean 3.12 virtualenv of requirements/runtime.txt that tests/deploy builds (the
    runtime's Python, so the bundles' bytecode is used), else this interpreter. The newest
    by its stamp, written once it is complete: `bin/python` is a link to the same base
    interpreter in every one of them, so its time picked a stale venv (one without its
    dependencies' bytecode: every start compiled them, 990 ms for health)."""
    stamps = sorted((repo / "build" / "test-venvs").glob("runtime-py3.12-*/.tributary-installed"),
                    key=lambda p: p.stat().st_mtime)
    return str(stamps[-1].parent / "bin" / "python") if stamps else sys.executable


def env_for(port: int, source: Path = REPO) -> dict[str, str]:
    """The function's environment; `source` (its bundle) is on sys.path, as /workspace is."""
    return {
        **os.environ,
        "PYTHONPATH": str(source),
        "GOOGLE_CLOUD_PROJECT": "bench",
        "ALLOWED_DOMAINS": "example.com",
        "FUNCTIONS_BASE_URL": f"http://127.0.0.1:{port}",
        "SCHEDULER_SERVICE_ACCOUNT": SCHEDULER,
        "TASKS_SERVICE_ACCOUNT": TASKS,
        "FIRESTORE_EMULATOR_HOST": os.environ.get("FIRESTORE_EMULATOR_HOST", ""),
        "PYTHONDONTWRITEBYTECODE": "1",  # each run as cold as the first: nothing compiled is kept
        # as production mounts it from Secret Manager (functions that read credentials need it)
        "CREDENTIALS_KEYS": "bench:" + base64.urlsafe_b64encode(bytes(32)).decode(),
        # the Cloud Tasks client is made (a webhook's first answer makes one) but never reached
        "CLOUD_TASKS_EMULATOR_HOST": f"127.0.0.1:{TASKS_PORT}",
        **({"FIREBASE_CERTS_URL": IDENTITY.firebase_certs_url, "GOOGLE_OIDC_CERTS_URL": IDENTITY.oidc_certs_url}
           if IDENTITY else {}),
    }


#: the local identity that signs the "signed in" requests' tokens (started by report())
IDENTITY: IdentityServer | None = None
SCHEDULER = "s@bench.iam.gserviceaccount.com"
TASKS_PORT = free_port()
TASKS = "t@bench.iam.gserviceaccount.com"


@dataclass(frozen=True)
class FirstRequest:
    """What a cold instance is asked first."""

    method: str = "GET"
    path: str = "/"
    token: str | None = None
    body: bool = False

    def send(self, port: int) -> int:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx.request(self.method, f"http://127.0.0.1:{port}{self.path}", headers=headers,
                              json={} if self.body else None, timeout=30).status_code


def signed_in(name: str, endpoint: Endpoint, base_url: str) -> FirstRequest:
    """The function's first route as its real caller sends it (GET / when it has no route)."""
    assert IDENTITY is not None
    if not endpoint.routes:
        return FirstRequest()
    route = endpoint.routes[0]
    path = re.sub(r"{[^}]+}", "bench", route.path)
    token = None
    if isinstance(route.auth, Users):
        token = IDENTITY.identity.id_token("admin@example.com", role="admin")
    elif isinstance(route.auth, ServiceAccount):
        account = SCHEDULER if route.auth.account == "scheduler" else TASKS
        token = IDENTITY.identity.oidc_token(f"{base_url}/{name}", account)
    return FirstRequest(route.method, path, token, body=route.body is not None)


BUDGET_MS = 400
TRIVIAL = """def handle(request):\n    return "ok"\n"""


def time_first_request(
    directory: Path, first: Callable[[int], FirstRequest] = lambda port: FirstRequest()
) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of the function's processes, status) from start to the
    answer to `first(port)` (built per port: a machine token's audience names the port)."""
    port = free_port()
    request = first(port)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [PYTHON, "-m", "functions_framework", "--target", "handle", "--source", str(directory / "main.py"),
         "--port", str(port), "--host", "127.0.0.1"],
        env=env_for(port, directory), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=directory,
        start_new_session=True,  # its own process group: gunicorn's master and the worker it forks
    )
    try:
        while True:
            try:
                status = request.send(port)
                return time.perf_counter() - started, tree_cpu_s(proc.pid), status
            except httpx.ConnectError:
                if proc.poll() is not None:
                    raise RuntimeError(f"{directory.name} exited with {proc.returncode}") from None
                time.sleep(0.005)
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End the function's master and its worker; a loaded machine may take long to, then kill."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (on a busy machine, wall time is mostly waiting)."""
    tick = os.sysconf("SC_CLK_TCK")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick


def children(pid: int) -> list[int]:
    """The live child processes of `pid` (every thread's, as /proc lists them)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and its live descendants: gunicorn's worker answers, not its master."""
    try:
        return process_cpu_s(pid) + sum(tree_cpu_s(child) for child in children(pid))
    except FileNotFoundError:  # it ended meanwhile: nothing more of it to count
        return 0.0


def heavy_imports(directory: Path, source: Path = REPO) -> list[str]:
    """The HEAVY packages importing `directory`'s main.py loads (`source`: where shared/ is)."""
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('main', {str(directory / 'main.py')!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        f"print(','.join(h for h in {HEAVY!r} if h in sys.modules))"
    )
    out = subprocess.run([PYTHON, "-c", code], env=env_for(1, source), capture_output=True, text=True, check=True)
    return [x for x in out.stdout.strip().split(",") if x]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="these functions (deployed names) only")
    parser.add_argument("--python", default=default_python(),
                        help="the interpreter that serves the functions (default: the runtime venv tests/deploy "
                             "builds under build/test-venvs, Python 3.12 as deployed, when there is one)")
    parser.add_argument("--no-bytecode", action="store_true", help="strip our .pyc from the bundles (the before)")
    args = parser.parse_args()
    global PYTHON, BYTECODE
    PYTHON, BYTECODE = args.python, not args.no_bytecode
    if not os.environ.get("FIRESTORE_EMULATOR_HOST"):
        from devtools.emulators import firestore_emulator

        port = free_port()
        emulator = firestore_emulator(port, REPO / ".local" / "logs").start()
        os.environ["FIRESTORE_EMULATOR_HOST"] = f"127.0.0.1:{port}"
        try:
            report(args.only, args.json)
        finally:
            emulator.stop()
    else:
        report(args.only, args.json)


def report(only: list[str] | None, as_json: bool) -> None:

    global IDENTITY
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the identity's access log
    IDENTITY = IdentityServer(LocalIdentity("bench")).start()
    try:
        measure_all(only, as_json)
    finally:
        IDENTITY.stop()


def deployed(names: list[str], out: Path, bytecode: bool = True) -> dict[str, Path]:
    """{deployed name: its bundle extracted under `out`}, built as `make bundles` builds it
    (without our .pyc when not `bytecode`)."""
    import zipfile

    from devtools.bundles import build_all

    found = {}
    for bundle in build_all(out / "zips", names):
        with zipfile.ZipFile(bundle.path) as archive:
            archive.extractall(out / bundle.name)
        if not bytecode:
            for cache in list((out / bundle.name).rglob("__pycache__")):
                shutil.rmtree(cache)
        found[bundle.name] = out / bundle.name
    return found


def measure_all(only: list[str] | None, as_json: bool) -> None:
    import tempfile

    version = subprocess.run([PYTHON, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True,
                             text=True, check=True).stdout.strip()
    print(f"cold start: process start -> first answered request ({RUNS} runs: wall median, CPU least), python {version} ({PYTHON}), "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    print("CPU ms: the function's processes (gunicorn master and worker), what an idle machine would take; wall ms")
    print("also wait for a busy machine's cores (contention inflates CPU ms too, less: compare ratios to the baseline).")
    print("Each function runs from its deploy bundle, " + ("with our code's 3.12 bytecode as deployed" if BYTECODE
          else "our .pyc stripped (--no-bytecode: compiled from source, as before bundles shipped them)"))

    def measure(directory: Path, first: Callable[[int], FirstRequest] = lambda port: FirstRequest()) -> dict[str, float]:
        samples = [time_first_request(directory, first) for _ in range(RUNS)]
        # CPU: the least of the runs, since contention only ever adds to it (caches, hyperthreads)
        return {"wall_ms": round(statistics.median(w for w, _, _ in samples) * 1000),
                "cpu_ms": round(min(c for _, c, _ in samples) * 1000), "status": samples[-1][2]}

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "main.py").write_text(TRIVIAL)
        base = measure(Path(tmp))
    names = [deployed_name(d) for d in function_dirs() if not only or deployed_name(d) in only]
    bundles = deployed(names, Path(tempfile.mkdtemp(prefix="cold-start-")), BYTECODE)
    try:
        table(bundles, measure, base, version, as_json)
    finally:
        shutil.rmtree(next(iter(bundles.values())).parent, ignore_errors=True)


def table(bundles: dict[str, Path], measure: Callable[..., dict[str, float]], base: dict[str, float], version: str,
          as_json: bool) -> None:
    print(f"{'':32} {'--- no token ---':>24}  {'--- signed in, first route ---':>37}")
    print(f"{'function':32} {'status':>6} {'wall ms':>8} {'CPU ms':>7}  {'request':18} {'status':>6} {'wall ms':>8} "
          f"{'CPU ms':>7} {'x base':>6}  heavy modules at import")
    print(f"{'(trivial function: baseline)':32} {200:6} {base['wall_ms']:8} {base['cpu_ms']:7}", flush=True)
    endpoints = load_endpoints()
    rows = []
    for name, directory in bundles.items():
        bare = measure(directory)
        make = lambda port, n=name: signed_in(n, endpoints[n], f"http://127.0.0.1:{port}")  # noqa: E731
        real = measure(directory, make)
        shown = make(0)
        heavy = heavy_imports(directory, directory)
        worst = max(bare["cpu_ms"], real["cpu_ms"])
        rows.append({"function": name, "no_token": bare, "signed_in": {**real, "request": f"{shown.method} {shown.path}"},
                     "cpu_ms": worst, "ratio": round(worst / base["cpu_ms"], 2), "heavy": heavy})
        print(f"{name:32} {bare['status']:6} {bare['wall_ms']:8} {bare['cpu_ms']:7}  "
              f"{(shown.method + ' ' + shown.path)[:18]:18} {real['status']:6} {real['wall_ms']:8} {real['cpu_ms']:7} "
              f"{real['cpu_ms'] / base['cpu_ms']:6.2f}  {', '.join(heavy) or '-'}", flush=True)
    for key, what in (("no_token", "no token"), ("signed_in", "signed in")):
        cpu = sorted(r[key]["cpu_ms"] for r in rows)
        within = [r["function"] for r in rows if r[key]["cpu_ms"] <= BUDGET_MS]
        print(f"{what}: CPU median {statistics.median(cpu):.0f} / max {cpu[-1]} ms "
              f"({statistics.median(cpu) / base['cpu_ms']:.2f} / {cpu[-1] / base['cpu_ms']:.2f} x the baseline's "
              f"{base['cpu_ms']}); {len(within)} of {len(rows)} within {BUDGET_MS} ms")
    slowest = max(rows, key=lambda r: r["cpu_ms"])
    print(f"slowest: {slowest['function']} {slowest['cpu_ms']} CPU ms ({slowest['ratio']} x the baseline's "
          f"{base['cpu_ms']}); budget {BUDGET_MS} ms: {'met' if slowest['cpu_ms'] <= BUDGET_MS else 'NOT met'}")
    if as_json:
        print(json.dumps({"max_ms": slowest["cpu_ms"], "function": slowest["function"], "budget_ms": BUDGET_MS,
                          "baseline": base, "max_ratio": slowest["ratio"], "runs": RUNS, "bytecode": BYTECODE,
                          "python": version, "load_average": round(os.getloadavg()[0], 1), "functions": rows}))


if __name__ == "__main__":
    main()
