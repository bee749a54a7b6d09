"""The cold-start benchmark counts the CPU of the process that answers, not only its parent.

functions-framework serves through gunicorn: the master imports main.py, a forked worker
answers the first request. Counting the master alone hid the first request's own work
(Firestore's import and client for `health`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.cold_start import default_python, process_cpu_s, tree_cpu_s

#: the parent forks a child that burns CPU, then both wait to be measured
FORKS_A_BUSY_CHILD = """
import os, sys, time
if os.fork() == 0:
    end = time.process_time() + 0.4
    while time.process_time() < end:
        pass
    print("burnt", flush=True)
    time.sleep(30)
    os._exit(0)
time.sleep(30)
"""


def test_the_forked_worker_s_cpu_is_counted() -> None:
    with subprocess.Popen([sys.executable, "-c", FORKS_A_BUSY_CHILD], stdout=subprocess.PIPE, text=True,
                          start_new_session=True) as proc:
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "burnt"
            time.sleep(0.05)
            assert process_cpu_s(proc.pid) < 0.2  # the parent alone misses the child's work
            assert tree_cpu_s(proc.pid) >= 0.35
        finally:
            os.killpg(proc.pid, signal.SIGKILL)  # the parent and its child: their own session
            proc.wait(timeout=10)


def test_the_default_interpreter_is_the_newest_complete_runtime_venv(tmp_path: Path) -> None:
    """Every venv's bin/python links to the same base interpreter: its time cannot tell
    them apart, so a stale venv was picked. The stamp, written when a venv is complete, can."""
    venvs = tmp_path / "build" / "test-venvs"
    for name, stamped_at in (("runtime-py3.12-new", 2_000_000_000), ("runtime-py3.12-old", 1_000_000_000),
                             ("runtime-py3.12-unfinished", None)):
        (venvs / name / "bin").mkdir(parents=True)
        (venvs / name / "bin" / "python").symlink_to(sys.executable)
        if stamped_at is not None:
            stamp = venvs / name / ".tributary-installed"
            stamp.write_text("{}")
            os.utime(stamp, (stamped_at, stamped_at))
    assert default_python(tmp_path) == str(venvs / "runtime-py3.12-new" / "bin" / "python")
    assert default_python(tmp_path / "elsewhere") == sys.executable
