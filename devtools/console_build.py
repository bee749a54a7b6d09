"""Build the console for Firebase Hosting: build/console/.

    python -m devtools.console_build --from-terraform        config from `terraform output`
    python -m devtools.console_build --config console.json   config from a file

The console is plain ES modules and needs no build to run; what this adds is the Firebase
Authentication SDK, from the npm registry at build time (console/package.json, pinned, with
its lock file), bundled by esbuild into one module, vendor/firebase.js. Nothing is loaded
from a CDN at run time. And config.json: where the functions are and the Firebase web app
config, which `terraform output -json console_config` prints after apply.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "console"
OUT = REPO / "build" / "console"
#: build inputs, not served
NOT_SERVED = {"package.json", "package-lock.json", "firebase-entry.js", "node_modules"}
REQUIRED_CONFIG = ("functionsBase", "allowedDomains", "firebase")
REQUIRED_FIREBASE = ("apiKey", "authDomain", "projectId")


class BuildError(RuntimeError):
    """What stopped the build, as one sentence."""


def check_config(config: dict[str, Any]) -> dict[str, Any]:
    """A production config: Firebase sign-in, never the local identity's."""
    missing = [k for k in REQUIRED_CONFIG if not config.get(k)]
    missing += [f"firebase.{k}" for k in REQUIRED_FIREBASE if not (config.get("firebase") or {}).get(k)]
    if missing:
        raise BuildError(f"config.json lacks {', '.join(missing)}")
    if config.get("mode", "firebase") != "firebase" or "identityUrl" in config or "testUsers" in config:
        raise BuildError("a hosted console signs in with Firebase only (mode local is for the local stack)")
    if not str(config["functionsBase"]).startswith("https://"):
        raise BuildError("functionsBase must be an https:// URL")
    return {**config, "mode": "firebase", "environment": config.get("environment", "production")}


def terraform_config(tf_dir: Path) -> dict[str, Any]:
    try:
        out = subprocess.run(["terraform", f"-chdir={tf_dir}", "output", "-json", "console_config"],
                             capture_output=True, text=True, check=True, timeout=120).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BuildError(f"`terraform output console_config` failed in {tf_dir}: {exc}") from None
    return dict(json.loads(out))


def npm_install(source: Path) -> None:
    """`npm ci`: exactly the lock file's versions, checked against their integrity hashes."""
    if not shutil.which("npm"):
        raise BuildError("npm is missing (Node.js 18+): apt-get install nodejs npm")
    marker = source / "node_modules" / ".package-lock.json"
    lock = source / "package-lock.json"
    if marker.exists() and marker.stat().st_mtime >= lock.stat().st_mtime:
        return
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=source, check=True, timeout=600)


def bundle_firebase(source: Path, out: Path) -> Path:
    target = out / "vendor" / "firebase.js"
    esbuild = source / "node_modules" / ".bin" / "esbuild"
    subprocess.run([str(esbuild), "firebase-entry.js", "--bundle", "--format=esm", "--minify", "--target=es2020",
                    "--legal-comments=eof", "--log-level=warning", f"--outfile={target}"],
                   cwd=source, check=True, timeout=300)
    return target


def copy_sources(source: Path, out: Path) -> list[Path]:
    copied = []
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if rel.parts[0] in NOT_SERVED or path.is_dir():
            continue
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        copied.append(target)
    return copied


def build(config: dict[str, Any], out: Path = OUT, source: Path = SOURCE) -> Path:
    config = check_config(config)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    copy_sources(source, out)
    npm_install(source)
    bundle_firebase(source, out)
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.console_build", description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-terraform", action="store_true", help="read `terraform output console_config`")
    source.add_argument("--config", type=Path, help="a config.json to use")
    parser.add_argument("--tf-dir", type=Path, default=REPO / "infra" / "terraform")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    try:
        config = terraform_config(args.tf_dir) if args.from_terraform else json.loads(args.config.read_text())
        out = build(config, args.out)
    except (BuildError, OSError, ValueError, subprocess.CalledProcessError) as exc:
        print(f"console build: {exc}", file=sys.stderr)
        return 2
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"built {out} ({size / 1024:.0f} KiB): deploy it with `firebase deploy --only hosting` (docs/deploy.md)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
