"""Regenerate shared/api/openapi.json from the functions' routes: python -m devtools.openapi"""

from __future__ import annotations

import json
import sys

from devtools.functions_catalog import load_endpoints
from shared.api.openapi import DOCUMENT_PATH, build_document


def render() -> str:
    return json.dumps(build_document(list(load_endpoints().values())), indent=1, sort_keys=True) + "\n"


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if DOCUMENT_PATH.read_text() != text:
            print("shared/api/openapi.json is stale: run python -m devtools.openapi", file=sys.stderr)
            return 1
        return 0
    DOCUMENT_PATH.write_text(text)
    print(f"wrote {DOCUMENT_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
