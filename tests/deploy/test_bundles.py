"""Deploy bundles: reproducible, complete, and importable on their own.

Each bundle is extracted to a directory and `import main` runs in a clean virtualenv that
holds only requirements/runtime.txt (no system site-packages, no repository on sys.path),
which is what Cloud Functions does with it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from devtools import bundles as bundle_tool
from tests.deploy.conftest import REPO, RUNTIME_REQUIREMENTS, clean_env

IMPORT_CHECK = """
import sys
bundle = sys.argv[1]
sys.path.insert(0, bundle)
import main, shared
assert callable(main.handle), "main.handle is not callable"
assert main.__file__.startswith(bundle), main.__file__
assert shared.__file__.startswith(bundle), "shared came from outside the bundle: " + shared.__file__
assert not any(p.rstrip("/") == %r for p in sys.path), "the repository is on sys.path"
print("ok", main.handle.__name__)
""" % str(REPO)


def test_every_function_has_a_bundle(bundles: dict[str, Path]) -> None:
    assert set(bundles) == set(bundle_tool.function_dirs())
    assert all(path.name == f"{name}.zip" for name, path in bundles.items())


def test_bundle_contents(bundles: dict[str, Path]) -> None:
    requirements = RUNTIME_REQUIREMENTS.read_bytes()
    for name, path in bundles.items():
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            assert names == sorted(names), f"{name}: entries are not sorted"
            assert names[:2] == ["main.py", "requirements.txt"] or {"main.py", "requirements.txt"} <= set(names)
            assert archive.read("requirements.txt") == requirements
            source_dir = bundle_tool.function_dirs()[name]
            assert archive.read("main.py") == (source_dir / "main.py").read_bytes()
            assert "shared/__init__.py" in names and "shared/config.py" in names
            sources = [n for n in names if n.endswith(".py")]
            for entry in names:
                assert "/tests/" not in f"/{entry}" and not Path(entry).name.startswith("test_"), entry
                # the only bytecode: one 3.12 .pyc per source, where the import system looks
                assert not entry.endswith(".pyo"), entry
                assert ("__pycache__" in entry) == entry.endswith(".pyc"), entry
            assert {n for n in names if n.endswith(".pyc")} == {bundle_tool.pyc_name(n) for n in sources}
            for source in sources:
                # PEP 552 flags 0b01: hash-based, unchecked (the hash itself is checked on 3.12 below)
                assert int.from_bytes(archive.read(bundle_tool.pyc_name(source))[4:8], "little") == 0b01, source
            for info in archive.infolist():
                assert info.date_time == bundle_tool.FIXED_TIME, (name, info.filename)
                assert info.external_attr >> 16 == bundle_tool.FILE_MODE, (name, info.filename)
            expected_shared = {
                p.relative_to(REPO).as_posix()
                for p in (REPO / "shared").rglob("*")
                if bundle_tool._included(p, REPO / "shared")
            }
            assert expected_shared == {n for n in names if n.startswith("shared/") and not n.endswith(".pyc")}


def test_bundles_are_reproducible(bundles: dict[str, Path], tmp_path: Path) -> None:
    again = {b.name: b for b in bundle_tool.build_all(tmp_path)}
    for name, path in bundles.items():
        assert path.read_bytes() == again[name].path.read_bytes(), f"{name}: two builds differ"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == again[name].sha256


def test_cli_prints_name_size_sha(tmp_path: Path) -> None:
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "devtools.bundles", "--out", str(tmp_path), "--only", "health", "sync-worker"],
        cwd=REPO,
        env={**clean_env(), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["health", "sync-worker"]
    digest = hashlib.sha256((tmp_path / "health.zip").read_bytes()).hexdigest()
    assert f"sha256:{digest}" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["health.zip", "sync-worker.zip"]


def test_each_bundle_imports_in_a_clean_venv(bundles: dict[str, Path], runtime_venv: Path, tmp_path: Path) -> None:
    python = runtime_venv / "bin" / "python"
    system_site = subprocess.run(
        [str(python), "-c", "import sys; print(any('site-packages' in p and not p.startswith(sys.prefix) for p in sys.path))"],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=True,
    ).stdout.strip()
    assert system_site == "False", "the runtime venv sees system site-packages"

    def check(item: tuple[str, Path]) -> tuple[str, subprocess.CompletedProcess[str]]:
        name, zip_path = item
        target = tmp_path / name
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(target)
        result = subprocess.run(
            [str(python), "-I", "-c", IMPORT_CHECK, str(target)],
            cwd=target,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        return name, result

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = list(pool.map(check, sorted(bundles.items())))
    failures = {name: r.stderr[-2000:] for name, r in results if r.returncode != 0 or not r.stdout.startswith("ok")}
    assert not failures, "\n\n".join(f"{name}:\n{err}" for name, err in failures.items())


HASHES_MATCH = """
import importlib.util, pathlib, sys
for pyc in pathlib.Path(sys.argv[1]).rglob("*.pyc"):
    source = pyc.parent.parent / (pyc.name.split(".")[0] + ".py")
    data = pyc.read_bytes()
    assert data[:4] == importlib.util.MAGIC_NUMBER, pyc
    assert data[8:16] == importlib.util.source_hash(source.read_bytes()), pyc
print("ok")
"""
USES_BYTECODE = """
import importlib, pkgutil, sys
bundle = sys.argv[1]
sys.path.insert(0, bundle)
assert sys.implementation.cache_tag == "cpython-312", sys.implementation.cache_tag
import main, shared
names = [m.name for m in pkgutil.walk_packages(shared.__path__, "shared.")]
for name in names:
    importlib.import_module(name)
ours = [m for m in list(sys.modules.values()) if (getattr(m, "__file__", None) or "").startswith(bundle)]
print("ok", len(names), len(ours))
"""


@pytest.mark.parametrize("name", ["records", "sync-worker"])
def test_the_shipped_bytecode_is_what_runs(bundles: dict[str, Path], runtime_venv: Path, tmp_path: Path, name: str) -> None:
    """A cold instance runs the bundle's .pyc and never compiles our source: every .py is
    replaced by one that fails when run, and `main` plus every module of shared/ still import
    on the runtime's Python, which writes no bytecode of its own (none was stale)."""
    python = runtime_venv / "bin" / "python"
    version = subprocess.run([str(python), "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
                             capture_output=True, text=True, env=clean_env(), check=True).stdout.strip()
    if version != "True":
        pytest.skip("the bundles' bytecode is for Python 3.12, the runtime's; this machine has no 3.12")
    target = tmp_path / name
    with zipfile.ZipFile(bundles[name]) as archive:
        archive.extractall(target)
    pycs = {p: p.read_bytes() for p in target.rglob("*.pyc")}
    hashes = subprocess.run([str(python), "-I", "-c", HASHES_MATCH, str(target)], env=clean_env(),
                            capture_output=True, text=True, timeout=60)
    assert hashes.stdout.startswith("ok"), "each .pyc is 3.12's, of its own source: " + hashes.stderr[-2000:]
    sources = list(target.rglob("*.py"))
    assert len(pycs) == len(sources) > 100
    for source in sources:
        source.write_text(f"raise RuntimeError('compiled from source: {source.name}')\n")
    result = subprocess.run([str(python), "-I", "-c", USES_BYTECODE, str(target)], cwd=target, env=clean_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("ok"), result.stderr[-3000:]
    loaded = int(result.stdout.split()[2])
    assert loaded > 100, result.stdout
    assert {p: p.read_bytes() for p in target.rglob("*.pyc")} == pycs, "the runtime rewrote or added bytecode"


@pytest.mark.parametrize("name", ["health", "sync-worker"])
def test_bundle_requirements_are_the_runtime_pins(bundles: dict[str, Path], name: str) -> None:
    with zipfile.ZipFile(bundles[name]) as archive:
        lines = [
            line.strip()
            for line in archive.read("requirements.txt").decode().splitlines()
            if line.strip() and not line.startswith("#")
        ]
    assert lines and all("==" in line for line in lines), "every runtime requirement is pinned"
