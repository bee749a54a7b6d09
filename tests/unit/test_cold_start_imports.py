"""A function must not import what it does not use: importing any function's module
loads none of the heavy clients (they are imported inside the handlers that use them)."""

from __future__ import annotations

import pytest

from bench.cold_start import heavy_imports
from devtools.functions_catalog import function_dirs


@pytest.mark.parametrize("directory", function_dirs(), ids=lambda d: d.name)
def test_function_module_imports_no_heavy_client(directory) -> None:
    assert heavy_imports(directory) == []
