"""Every #16 figure in one table: target, measured, pass or fail, per vendor.

    python -m bench.table [--only noop parallel floor cold_start cpu scale] [--quick]

Each figure comes from its own benchmark, run as a subprocess (one failing does not stop
the table) with `--json`: the last line of its output is one JSON object. Benchmarks that
are not in this tree show as "pending"; bench.cpu_profile and bench.scale's keys are read as `cpu_ms_per_record` and `rss_ratio` (1M / 10k records,
with `rss_10k_mb` and `rss_1m_mb`). The cold-start benchmark's text table is read when it
has no `--json`. The machine is shared: the load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.stack import load_average

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Row:
    vendor: str
    figure: str
    target: str
    measured: str
    verdict: str  # pass, FAIL, pending, error


def run_bench(module: str, *args: str, timeout_s: float = 1800) -> tuple[dict[str, Any] | None, str]:
    """(the JSON object a benchmark printed last, or None; its whole output)."""
    if not (REPO / "bench" / f"{module}.py").exists():
        return None, "missing"
    proc = subprocess.run([sys.executable, "-m", f"bench.{module}", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout_s, env={**os.environ, "PYTHONPATH": str(REPO)})
    for line in reversed(proc.stdout.strip().splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line), proc.stdout
            except json.JSONDecodeError:
                break
    return None, proc.stdout + proc.stderr[-2000:]


def verdict(ok: bool) -> str:
    return "pass" if ok else "FAIL"


def noop(quick: bool) -> list[Row]:
    sizes = ["--contacts", "500", "--conversations", "300"] if quick else []
    got, out = run_bench("noop_runs", "--json", "--runs", "10", *sizes)
    if got is None:
        return [Row("intercom", "no-op runs: slowest / median", "<= 1.5", out[-200:], "error")]
    runs = got["runs"]
    return [Row("intercom", "no-op runs: slowest / median (10 runs)", "<= 1.5",
                f"{got['ratio']} ({got['max_s']} / {got['median_s']} s; {runs[0]['vendor_requests']} requests, "
                f"{sum(r['written'] for r in runs)} writes, {sum(r['worker_retries'] for r in runs)} retries; "
                f"load {got['load_average']})", verdict(got["ratio"] <= 1.5))]


def parallel(quick: bool) -> list[Row]:
    got, out = run_bench("parallel", "--json", "--contacts", "2000" if quick else "4000")
    if got is None:
        return [Row("intercom", "parallel partitions 1/2/4", "wall falls", out[-200:], "error")]
    walls = [s["wall_s"] for s in got["settings"]]
    falls = all(b < a for a, b in zip(walls, walls[1:], strict=False))
    return [Row("intercom", f"full import, {got['contacts']} contacts: wall at 1/2/4 dispatches",
                "falls as workers are added", " / ".join(f"{w} s" for w in walls)
                + f" ({got['settings'][0]['partitions']} partitions; load {got['load_average']})", verdict(falls))]


def start_share(got: dict[str, Any]) -> str:
    """How busy the vendor's budget was in the run's first 15 s (where a busy machine's runs
    lose their time: steady state is at the rate), from the bench's timeline; for Pylon, of
    the rate of the endpoint that sets the floor."""
    buckets = (got.get("timeline") or {}).get("requests_per_5s") or []
    rate = got.get("rate_per_s")
    if isinstance(rate, dict):  # per endpoint: the one that sets the floor
        by = got.get("requests_by_endpoint") or {}
        rate = rate[max(by, key=lambda k: by[k] / rate[k])] if by and set(by) <= set(rate) else None
    if len(buckets) < 3 or not rate:
        return "no timeline"
    return f"first 15 s at {sum(buckets[:3]) / (15 * rate):.0%} of the rate"


def floor(quick: bool) -> list[Row]:
    """Vendor-bound runs at a size where the floor dominates (>= 600 requests, >= 60 s):
    Intercom (app scope: the queue paces) and Pylon (token scope: booked in the store)."""
    sizes = ["--contacts", "1000", "--companies", "100", "--conversations", "300"] if quick else \
        ["--contacts", "2000", "--companies", "200", "--conversations", "600"]
    rows = []
    got, out = run_bench("full_sync", "--json", "--rate-limit", "600", "--queue-share", "1.0", "--noop-runs", "0",
                         "--admins", "20", *sizes)
    if got is None:
        rows.append(Row("intercom", "vendor-bound: wall / floor", "<= 1.05, 0 429s", out[-200:], "error"))
    else:
        rows.append(Row("intercom", "vendor-bound run at full share: wall / floor", "<= 1.05, no 429",
                        f"{got['ratio']} ({got['wall_s']} s / {got['floor_s']} s; {got['vendor_requests']} requests at "
                        f"{got['rate_per_s']}/s; {got['429s']} 429s; {start_share(got)}; load {got['load_average']})",
                        verdict(got["ratio"] <= 1.05 and got["429s"] == 0)))
    got, out = run_bench("pylon_floor", "--json", "--issues", "300" if quick else "600")
    if got is None:
        rows.append(Row("pylon", "vendor-bound: wall / floor", "<= 1.05, 0 429s", out[-200:], "error"))
    else:
        rows.append(Row("pylon", "vendor-bound run (store-booked): wall / floor", "<= 1.05, no 429",
                        f"{got['ratio']} ({got['wall_s']} s / {got['floor_s']} s; {got['requests']} requests; "
                        f"{got['ratio_at_booked_share']} at the booked share {got['booked_share']}; "
                        f"{got['429s']} 429s; {start_share(got)}; load {got['load_average']})",
                        verdict(got["ratio"] <= 1.05 and got["429s"] == 0)))
    return rows


def cold_start(quick: bool) -> list[Row]:
    got, out = run_bench("cold_start", "--json")
    if got is None or "functions" not in got:
        return [Row("all", "cold start, slowest function", "<= 400 ms", out[-200:], "error")]
    base, rows = got["baseline"]["cpu_ms"], got["functions"]
    found = []
    for key, what in (("no_token", "no token"), ("signed_in", "signed in, first route")):
        worst = max(rows, key=lambda r: r[key]["cpu_ms"])
        ms = worst[key]["cpu_ms"]
        over = sum(1 for r in rows if r[key]["cpu_ms"] > got["budget_ms"])
        median = statistics.median(r[key]["cpu_ms"] for r in rows)
        found.append(Row("all", f"cold start ({what}): slowest first answer, CPU ms",
                         f"<= {got['budget_ms']} ms", f"{ms} ms ({worst['function']}; {ms / base:.2f} x a trivial "
                         f"function's {base} ms; median {median:.0f}; {over} of {len(rows)} over; "
                         f"python {got.get('python', '?')}; load {got['load_average']})",
                         verdict(ms <= got["budget_ms"])))
    return found


def cpu(quick: bool) -> list[Row]:
    got, out = run_bench("cpu_profile", "--json", "--no-profile", "--repeat", "2", "--label", "table")
    if out == "missing" or got is None or "cpu_ms_per_record" not in got:
        return [Row("intercom", "worker CPU per record", "<= 0.3 ms", "bench/cpu_profile.py did not report", "error")]
    return [Row("intercom", "worker CPU per record", "<= 0.3 ms", f"{got['cpu_ms_per_record']} ms",
                verdict(float(got["cpu_ms_per_record"]) <= 0.3))]


#: at most these reads for a records list page of 50, its unchanged (304) poll and one record
#: (bench/scale.py; measured at 10k, 100k and 1M alike)
BOUNDED_READS = {"list_50": 53, "unchanged_poll": 1, "one_record": 2}


def scale(quick: bool) -> list[Row]:
    # 1M contacts do not fit in the Firestore emulator's heap: all but the newest 50,000 are
    # deleted behind the sync (bench/scale.py --emulator-keep)
    sizes = ("--sizes", "10000,100000") if quick else ("--sizes", "10000,1000000", "--emulator-keep", "50000")
    got, out = run_bench("scale", "--json", *sizes, timeout_s=7200)
    size = "100k" if quick else "1M"
    figure = f"peak RSS, {size} / 10k records"
    if out == "missing" or got is None or "rss_ratio" not in got:
        return [Row("intercom", figure, "<= 1.2", "bench/scale.py did not report", "error")]
    rows = [Row("intercom", figure, "<= 1.2", f"{got['rss_ratio']} ({got.get('rss_1m_mb')} / {got.get('rss_10k_mb')} MB)",
                verdict(float(got["rss_ratio"]) <= 1.2))]
    reads = (got.get("rows") or [{}])[-1].get("reads", {})
    measured = " / ".join(str(reads.get(k, "?")) for k in BOUNDED_READS)
    target = " / ".join(str(v) for v in BOUNDED_READS.values())
    rows.append(Row("intercom", f"reads at {size}: list 50 / 304 poll / one record", target, measured,
                    verdict(all(int(reads.get(k, 1 << 30)) <= v for k, v in BOUNDED_READS.items()))))
    return rows


SECTIONS: dict[str, Callable[[bool], list[Row]]] = {
    "cpu": cpu, "cold_start": cold_start, "parallel": parallel, "floor": floor, "noop": noop, "scale": scale}


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "?")
    return f"{os.cpu_count()} cores ({model}), load average {load_average()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", choices=sorted(SECTIONS), default=list(SECTIONS))
    parser.add_argument("--quick", action="store_true", help="smaller data sets (a few minutes in all)")
    args = parser.parse_args()
    print(f"#16 figures on {machine()}", flush=True)
    rows: list[Row] = []
    for name in args.only:
        try:
            rows += SECTIONS[name](args.quick)
        except (subprocess.SubprocessError, OSError, KeyError, ValueError) as exc:
            rows.append(Row("-", name, "-", f"{type(exc).__name__}: {exc}"[:120], "error"))
        print(f"  ({name} done, load average {load_average()})", file=sys.stderr, flush=True)
    widths = [max(len(getattr(r, f)) for r in [Row("vendor", "figure", "target", "measured", "result"), *rows])
              for f in ("vendor", "figure", "target", "measured", "verdict")]
    for n, r in enumerate([Row("vendor", "figure", "target", "measured", "result"), *rows]):
        cells = (r.vendor, r.figure, r.target, r.measured, r.verdict)
        print("| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |")
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    print(f"machine after: load average {load_average()}")


if __name__ == "__main__":
    main()
