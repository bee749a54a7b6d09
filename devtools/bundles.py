"""Deploy bundles: one reproducible zip per function, what Cloud Functions builds from.

    python -m devtools.bundles [--out build/bundles] [--only NAME ...]

Each <deployed-name>.zip holds
    main.py            functions/<dir>/main.py, at the root (entry point `handle`)
    requirements.txt   a copy of requirements/runtime.txt (the pinned runtime deps)
    shared/            the shared package (no __pycache__, *.pyc or tests)

The same tree gives the same bytes: entries sorted, timestamps fixed, permissions fixed,
one compression setting. infra/terraform names each uploaded object by its sha256, so a
function is redeployed exactly when its bundle changed.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "build" / "bundles"

#: 1980-01-01, the earliest time a zip can hold: nothing about when or where it was built
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # regular file, rw-r--r--
EXCLUDED_DIRS = {"__pycache__", "tests", "test", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
EXCLUDED_SUFFIXES = {".pyc", ".pyo", ".so", ".orig", ".rej", ".swp"}
EXCLUDED_NAMES = {".DS_Store"}


@dataclass(frozen=True)
class Bundle:
    name: str
    path: Path
    size: int
    sha256: str


def function_dirs(repo: Path = REPO) -> dict[str, Path]:
    """{deployed-name: functions/<dir>} (same rule as devtools.functions_catalog)."""
    root = repo / "functions"
    return {
        p.name.replace("_", "-"): p for p in sorted(root.iterdir()) if p.is_dir() and (p / "main.py").is_file()
    }


def _included(path: Path, base: Path) -> bool:
    rel = path.relative_to(base)
    if any(part in EXCLUDED_DIRS or part.startswith(".") for part in rel.parts[:-1]):
        return False
    if path.name in EXCLUDED_NAMES or path.suffix in EXCLUDED_SUFFIXES or path.name.startswith("test_"):
        return False
    return path.is_file()


def bundle_entries(function_dir: Path, repo: Path = REPO) -> list[tuple[str, bytes]]:
    """(archive name, content) for one function, sorted by name."""
    entries: dict[str, bytes] = {
        "main.py": (function_dir / "main.py").read_bytes(),
        "requirements.txt": (repo / "requirements" / "runtime.txt").read_bytes(),
    }
    # anything else the function keeps beside its main.py (templates, data) comes along
    for path in sorted(function_dir.rglob("*")):
        if path.name != "main.py" and _included(path, function_dir):
            entries[path.relative_to(function_dir).as_posix()] = path.read_bytes()
    shared = repo / "shared"
    for path in sorted(shared.rglob("*")):
        if _included(path, shared):
            entries[path.relative_to(repo).as_posix()] = path.read_bytes()
    return sorted(entries.items())


def zip_bytes(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = FILE_MODE << 16
            info.create_system = 3  # unix, whatever builds it
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return buffer.getvalue()


def build_bundle(name: str, function_dir: Path, out: Path, repo: Path = REPO) -> Bundle:
    data = zip_bytes(bundle_entries(function_dir, repo))
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.zip"
    path.write_bytes(data)
    return Bundle(name=name, path=path, size=len(data), sha256=hashlib.sha256(data).hexdigest())


def build_all(out: Path = DEFAULT_OUT, only: list[str] | None = None, repo: Path = REPO) -> list[Bundle]:
    dirs = function_dirs(repo)
    unknown = sorted(set(only or ()) - set(dirs))
    if unknown:
        raise SystemExit(f"unknown function(s): {', '.join(unknown)}; known: {', '.join(dirs)}")
    return [build_bundle(name, d, out, repo) for name, d in dirs.items() if not only or name in only]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.bundles", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="directory for <name>.zip (build/bundles)")
    parser.add_argument("--only", nargs="*", help="deployed names to build (default: all)")
    args = parser.parse_args(argv)
    bundles = build_all(args.out, args.only)
    width = max((len(b.name) for b in bundles), default=4)
    for b in bundles:
        print(f"{b.name:<{width}}  {b.size:>9,d} B  sha256:{b.sha256}")
    print(f"{len(bundles)} bundle(s) in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
