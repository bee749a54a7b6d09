"""Load every function's Endpoint, for generators (OpenAPI, deploy manifest) and tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from shared.api import Endpoint

REPO = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = REPO / "functions"


def function_dirs() -> list[Path]:
    return sorted(p for p in FUNCTIONS_DIR.iterdir() if (p / "main.py").is_file())


def deployed_name(function_dir: Path) -> str:
    """Cloud Functions names allow hyphens, Python packages underscores."""
    return function_dir.name.replace("_", "-")


def load_endpoints() -> dict[str, Endpoint]:
    endpoints: dict[str, Endpoint] = {}
    for directory in function_dirs():
        module_name = f"tributary_function_{directory.name}"
        spec = importlib.util.spec_from_file_location(module_name, directory / "main.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        endpoint = module.endpoint
        endpoints[deployed_name(directory)] = endpoint
    return endpoints
