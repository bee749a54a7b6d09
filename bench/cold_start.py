"""Cold start per function: process start -> first answered request, and what it imported.

Each function is served alone by functions-framework (as Cloud Functions does) in a new
process; the first request is the one a cold instance would get (no token: a protected
function answers 401 once loaded). Beside each, the ratio to a trivial functions-framework
function's time (the baseline: Python plus Flask plus functions-framework), which does not
depend on how busy the machine is; the budget is 400 ms on an idle machine. Run: make bench
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


BUDGET_MS = 400
TRIVIAL = """def handle(request):\n    return "ok"\n"""


def time_first_request(directory: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the function's process) from its start to its first answer."""
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
                httpx.get(f"http://127.0.0.1:{port}/", timeout=30)
                return time.perf_counter() - started, process_cpu_s(proc.pid)
            except httpx.ConnectError:
                if proc.poll() is not None:
                    raise RuntimeError(f"{directory.name} exited with {proc.returncode}") from None
                time.sleep(0.005)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (on a busy machine, wall time is mostly waiting)."""
    tick = os.sysconf("SC_CLK_TCK")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick


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
    import tempfile

    print(f"cold start: process start -> first answered request (median of {RUNS}), python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("wall ms waits for a busy machine too; CPU ms (the process's own) does not, and its ratio to the baseline's")
    print("is what a function adds to Python + Flask + functions-framework")

    def measure(directory: Path) -> tuple[float, float]:
        samples = [time_first_request(directory) for _ in range(RUNS)]
        return statistics.median(w for w, _ in samples) * 1000, statistics.median(c for _, c in samples) * 1000

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "main.py").write_text(TRIVIAL)
        base_wall, base_cpu = measure(Path(tmp))
    print(f"{'function':32} {'wall ms':>8} {'CPU ms':>7} {'CPU x baseline':>15}  heavy modules loaded at import")
    print(f"{'(trivial function: baseline)':32} {base_wall:8.0f} {base_cpu:7.0f} {1:15.2f}  -")
    worst = 0.0
    for directory in function_dirs():
        wall, cpu = measure(directory)
        heavy = heavy_imports(directory)
        worst = max(worst, cpu / base_cpu)
        print(f"{deployed_name(directory):32} {wall:8.0f} {cpu:7.0f} {cpu / base_cpu:15.2f}  {', '.join(heavy) or '-'}")
    print(f"worst CPU ratio {worst:.2f}: every function answers within {BUDGET_MS} ms where the baseline starts "
          f"in {BUDGET_MS / worst:.0f} ms or less")


if __name__ == "__main__":
    main()
