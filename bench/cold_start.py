"""Cold start per function: process start -> first answered request, and what it imported.

Each function is served alone by functions-framework (as Cloud Functions does) in a new
process; the first request is the one a cold instance would get. Run: make bench
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from devtools.functions_catalog import deployed_name, function_dirs
from devtools.processes import free_port

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("google.cloud.firestore", "firebase_admin", "google.cloud.tasks_v2", "grpc")
RUNS = int(os.environ.get("COLD_START_RUNS", "3"))


def env_for(port: int) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "GOOGLE_CLOUD_PROJECT": "bench",
        "ALLOWED_DOMAINS": "example.com",
        "FUNCTIONS_BASE_URL": f"http://127.0.0.1:{port}",
        "SCHEDULER_SERVICE_ACCOUNT": "s@bench.iam.gserviceaccount.com",
        "TASKS_SERVICE_ACCOUNT": "t@bench.iam.gserviceaccount.com",
        "FIRESTORE_EMULATOR_HOST": os.environ.get("FIRESTORE_EMULATOR_HOST", ""),
    }


def time_first_request(directory: Path) -> float:
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "functions_framework", "--target", "handle", "--source", str(directory / "main.py"),
         "--port", str(port), "--host", "127.0.0.1"],
        env=env_for(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=directory,
    )
    try:
        while True:
            try:
                # No token: protected functions answer 401 after loading, which is what we time.
                httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
                return time.perf_counter() - started
            except httpx.ConnectError:
                if proc.poll() is not None:
                    raise RuntimeError(f"{directory.name} exited with {proc.returncode}") from None
                time.sleep(0.005)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def heavy_imports(directory: Path) -> list[str]:
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('main', {str(directory / 'main.py')!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        f"print(','.join(h for h in {HEAVY!r} if h in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env_for(1), capture_output=True, text=True, check=True)
    return [x for x in out.stdout.strip().split(",") if x]


def main() -> None:
    if not os.environ.get("FIRESTORE_EMULATOR_HOST"):
        from devtools.emulators import firestore_emulator

        port = free_port()
        emulator = firestore_emulator(port, REPO / ".local" / "logs").start()
        os.environ["FIRESTORE_EMULATOR_HOST"] = f"127.0.0.1:{port}"
        try:
            report()
        finally:
            emulator.stop()
    else:
        report()


def report() -> None:
    print(f"cold start: process start -> first answered request (median of {RUNS}), python {sys.version.split()[0]}")
    print(f"{'function':32} {'median ms':>10} {'min ms':>8}  heavy modules loaded at import")
    for directory in function_dirs():
        samples = [time_first_request(directory) * 1000 for _ in range(RUNS)]
        heavy = heavy_imports(directory)
        print(f"{deployed_name(directory):32} {statistics.median(samples):10.0f} {min(samples):8.0f}  {', '.join(heavy) or '-'}")


if __name__ == "__main__":
    main()
