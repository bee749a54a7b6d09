"""firestore.rules and firestore.indexes.json are generated from the connectors and current;
every query shape the records function serves has its index; the database's limits hold."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.deploy.conftest import REPO


def test_committed_rules_and_indexes_are_current() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "devtools.firestore_config", "--check"],
        cwd=REPO,
        env={**__import__("os").environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, (
        "firestore.rules / firestore.indexes.json are stale: run `python -m devtools.firestore_config` and commit them\n"
        + result.stdout
        + result.stderr
    )
    assert "composite indexes per stream" in result.stdout


def _declared() -> dict[str, Any]:
    return json.loads((REPO / "firestore.indexes.json").read_text())


def test_every_served_query_shape_has_its_composite_index() -> None:
    from shared.serving.indexes import index_for, index_key
    from shared.serving.queries import criteria_for_shape, page_query, sorts_of
    from shared.sync.registry import all_connectors

    have = {index_key(i) for i in _declared()["indexes"]}
    checked = 0
    for connector in all_connectors():
        for stream in connector.served():
            serving = stream.serving
            assert serving is not None
            for combination in serving.combinations:
                for sort in sorts_of(serving, combination):
                    for direction in combination.directions:
                        spec = page_query(serving, criteria_for_shape(serving, combination.filters, sort, direction))
                        index = index_for(stream.name, spec)
                        checked += 1
                        assert index is None or index_key(index) in have, (
                            connector.vendor,
                            stream.name,
                            combination,
                            sort,
                        )
        for view in connector.views:
            for spec in view.indexes:
                assert (spec.collection, "COLLECTION", spec.fields) in have
    assert checked > 40


def test_limits_ttl_and_unindexed_maps() -> None:
    from shared.serving.indexes import COMPOSITE_INDEX_LIMIT, FIELD_OVERRIDE_LIMIT
    from shared.sync.registry import all_connectors

    declared = _declared()
    # Firestore allows 200 per database: keep a quarter free for what comes next, and no
    # collection group may take more than a fifth (69 hand-kept indexes served Intercom before)
    assert len(declared["indexes"]) <= COMPOSITE_INDEX_LIMIT * 3 // 4
    per_group: dict[str, int] = {}
    for index in declared["indexes"]:
        per_group[index["collectionGroup"]] = per_group.get(index["collectionGroup"], 0) + 1
    assert max(per_group.values()) <= COMPOSITE_INDEX_LIMIT // 5, per_group
    assert len(declared["fieldOverrides"]) <= FIELD_OVERRIDE_LIMIT
    overrides = {(o["collectionGroup"], o["fieldPath"]): o for o in declared["fieldOverrides"]}
    for connector in all_connectors():
        for stream in connector.streams:
            assert overrides[(stream.name, "_expires_at")] == {
                "collectionGroup": stream.name,
                "fieldPath": "_expires_at",
                "ttl": True,
                "indexes": [],
            }
    for stream in ("contacts", "companies", "conversations"):
        assert overrides[(stream, "custom_attributes")]["indexes"] == []


def test_rules_list_each_vendors_streams() -> None:
    from shared.sync.registry import all_connectors

    rules = (REPO / "firestore.rules").read_text()
    assert rules.startswith("rules_version = '2';\n\n// GENERATED")
    for connector in all_connectors():
        names = ", ".join(f"'{s.name}'" for s in sorted(connector.served(), key=lambda s: s.name))
        assert f"'{connector.vendor}': [{names}]" in rules
