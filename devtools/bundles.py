"""Deploy bundles: one reproducible zip per function, what Cloud Functions builds from.

    python -m devtools.bundles [--out build/bundles] [--only NAME ...]

Each <deployed-name>.zip holds
    main.py            functions/<dir>/main.py, at the root (entry point `handle`)
    requirements.txt   a copy of requirements/runtime.txt (the pinned runtime deps)
    shared/            the shared package (no tests, no local __pycache__)
    **/__pycache__/    every .py above precompiled by the runtime's Python (3.12)

Why bytecode ships: a cold instance otherwise compiles every module of shared/ it imports
before answering (Google's Python buildpack precompiles the dependencies it installs, never
the app's own source). The .pyc are PEP 552 "unchecked-hash" ones, the buildpack's own
choice for the dependencies: deterministic (no timestamps, so the bundle stays reproducible)
and used without reading the source back (the bundle is immutable, so they cannot go stale).

The same tree gives the same bytes: entries sorted, timestamps fixed, permissions fixed,
one compression setting. infra/terraform names each uploaded object by its sha256, so a
function is redeployed exactly when its bundle changed.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import posixpath
import shutil
import subprocess
import sys
import tempfile
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

#: the runtime infra/terraform deploys (`python312`): bytecode is only valid for its version
RUNTIME_PYTHON = (3, 12)
CACHE_TAG = "cpython-%d%d" % RUNTIME_PYTHON
#: where to find that interpreter, first that answers wins (TRIBUTARY_BUNDLE_PYTHON to choose)
PYTHON_CANDIDATES = (
    os.environ.get("TRIBUTARY_BUNDLE_PYTHON", ""),
    "python3.12",
    str(Path.home() / ".pyenv" / "versions" / "3.12.1" / "bin" / "python3.12"),
)

#: run by the runtime's Python: [[source, name shown in tracebacks, .pyc to write], ...] on stdin
_COMPILE = """
import json, py_compile, sys
for source, shown, cfile in json.load(sys.stdin):
    py_compile.compile(source, cfile=cfile, dfile=shown, doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
print(sys.implementation.cache_tag)
"""


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


class NoRuntimePython(SystemExit):
    """No interpreter of the runtime's version to precompile the bundles with."""


def runtime_python() -> str:
    """The first candidate interpreter of the runtime's version (PYTHON_CANDIDATES)."""
    wanted = "%d.%d" % RUNTIME_PYTHON
    for candidate in PYTHON_CANDIDATES:
        exe = candidate and (shutil.which(candidate) or candidate)
        if not exe:
            continue
        try:
            version = subprocess.run(
                [exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True, text=True, timeout=30, check=True,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
        if version == wanted:
            return exe
    raise NoRuntimePython(
        f"deploy bundles ship bytecode for the runtime's Python {wanted}, and none was found "
        f"(tried {', '.join(c for c in PYTHON_CANDIDATES if c)}): install python{wanted} "
        "or set TRIBUTARY_BUNDLE_PYTHON to one"
    )


def compile_sources(sources: dict[Path, str], python: str | None = None) -> dict[Path, bytes]:
    """{.py file: the name its tracebacks show (its archive name)} -> {.py file: .pyc bytes},
    compiled in one run of the runtime's Python, with no PYTHON* variable of this machine's
    but PYTHONHASHSEED=0 (not -I, which would ignore it): no environment or hash seed can
    change the bytes."""
    python = python or runtime_python()
    files = sorted(sources)
    with tempfile.TemporaryDirectory() as tmp:
        jobs = [[str(path), sources[path], str(Path(tmp) / f"{i}.pyc")] for i, path in enumerate(files)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        result = subprocess.run(
            [python, "-s", "-c", _COMPILE], input=json.dumps(jobs), capture_output=True, text=True,
            env={**env, "PYTHONHASHSEED": "0"}, timeout=300,
        )
        if result.returncode != 0:
            raise SystemExit(f"precompiling the bundles failed:\n{result.stderr[-4000:]}")
        if result.stdout.strip() != CACHE_TAG:
            raise SystemExit(f"{python} compiles for {result.stdout.strip()}, the runtime needs {CACHE_TAG}")
        return {Path(source): Path(cfile).read_bytes() for source, _, cfile in jobs}


def pyc_name(source: str) -> str:
    """Where the runtime's import system looks for a source's bytecode: dir/__pycache__/stem.<tag>.pyc."""
    directory, file = posixpath.split(source)
    return posixpath.join(directory, "__pycache__", f"{file[:-3]}.{CACHE_TAG}.pyc")


def _included(path: Path, base: Path) -> bool:
    rel = path.relative_to(base)
    if any(part in EXCLUDED_DIRS or part.startswith(".") for part in rel.parts[:-1]):
        return False
    if path.name in EXCLUDED_NAMES or path.suffix in EXCLUDED_SUFFIXES or path.name.startswith("test_"):
        return False
    return path.is_file()


def bundle_sources(function_dir: Path, repo: Path = REPO) -> dict[str, Path]:
    """{archive name: file} of one function's sources (no bytecode yet)."""
    entries: dict[str, Path] = {
        "main.py": function_dir / "main.py",
        "requirements.txt": repo / "requirements" / "runtime.txt",
    }
    # anything else the function keeps beside its main.py (templates, data) comes along
    for path in sorted(function_dir.rglob("*")):
        if path.name != "main.py" and _included(path, function_dir):
            entries[path.relative_to(function_dir).as_posix()] = path
    shared = repo / "shared"
    for path in sorted(shared.rglob("*")):
        if _included(path, shared):
            entries[path.relative_to(repo).as_posix()] = path
    return entries


def bundle_entries(
    function_dir: Path, repo: Path = REPO, bytecode: dict[Path, bytes] | None = None
) -> list[tuple[str, bytes]]:
    """(archive name, content) for one function, sorted by name, each .py with its bytecode
    (`bytecode`: compile_sources' answer when the caller compiled many bundles at once)."""
    sources = bundle_sources(function_dir, repo)
    if bytecode is None:
        bytecode = compile_sources(python_sources(sources))
    entries = {name: path.read_bytes() for name, path in sources.items()}
    for name, path in sources.items():
        if name.endswith(".py"):
            entries[pyc_name(name)] = bytecode[path]
    return sorted(entries.items())


def python_sources(sources: dict[str, Path]) -> dict[Path, str]:
    """{.py file: its archive name} among a bundle's sources: what compile_sources takes."""
    return {path: name for name, path in sources.items() if name.endswith(".py")}


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


def build_bundle(
    name: str, function_dir: Path, out: Path, repo: Path = REPO, bytecode: dict[Path, bytes] | None = None
) -> Bundle:
    data = zip_bytes(bundle_entries(function_dir, repo, bytecode))
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.zip"
    path.write_bytes(data)
    return Bundle(name=name, path=path, size=len(data), sha256=hashlib.sha256(data).hexdigest())


def build_all(out: Path = DEFAULT_OUT, only: list[str] | None = None, repo: Path = REPO) -> list[Bundle]:
    dirs = function_dirs(repo)
    unknown = sorted(set(only or ()) - set(dirs))
    if unknown:
        raise SystemExit(f"unknown function(s): {', '.join(unknown)}; known: {', '.join(dirs)}")
    chosen = {name: d for name, d in dirs.items() if not only or name in only}
    # every bundle's sources in one run of the compiler: shared/ once, each main.py
    sources: dict[Path, str] = {}
    for d in chosen.values():
        sources.update(python_sources(bundle_sources(d, repo)))
    bytecode = compile_sources(sources)
    return [build_bundle(name, d, out, repo, bytecode) for name, d in chosen.items()]


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
