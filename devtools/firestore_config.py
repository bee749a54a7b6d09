"""firestore.rules and firestore.indexes.json, generated from the connector registry.

    python -m devtools.firestore_config            write both files, print index counts
    python -m devtools.firestore_config --check    exit 1 when a committed file is stale

Rules: clients (dashboards, through the Firebase SDK) may only READ, signed in with a
verified email of an allowed domain, the records of a connection they may see (an org
connection: every member; a personal one: its owner and admins; the rule reads the
connection document to know which) in the collections its vendor serves, and sync runs.
Nothing else, and never a write.

Indexes: the composite indexes each stream's declared combinations need (and views'),
field overrides making `_expires_at` a TTL field of every stream and exempting free-form
maps from indexing, and what the platform itself needs (PLATFORM_*). Firestore allows 200
composite indexes per database: the generator prints the count per stream and refuses to
write past the limit.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "firestore.rules"
INDEXES = REPO / "firestore.indexes.json"

#: composite indexes the platform's own queries need (not a vendor's)
PLATFORM_INDEXES: list[dict[str, Any]] = [
    # shared.connections: the scheduler's due connections (status == connected, next_run_at <= now)
    {
        "collectionGroup": "connections",
        "queryScope": "COLLECTION",
        "fields": [
            {"fieldPath": "status", "order": "ASCENDING"},
            {"fieldPath": "next_run_at", "order": "ASCENDING"},
        ],
    },
    # shared.sync.events: one connection's events, oldest first (connection_id == X, at >= since)
    {
        "collectionGroup": "sync_events",
        "queryScope": "COLLECTION",
        "fields": [
            {"fieldPath": "connection_id", "order": "ASCENDING"},
            {"fieldPath": "at", "order": "ASCENDING"},
        ],
    },
    # the same, newest first (order=desc: the console's Events page for one connection)
    {
        "collectionGroup": "sync_events",
        "queryScope": "COLLECTION",
        "fields": [
            {"fieldPath": "connection_id", "order": "ASCENDING"},
            {"fieldPath": "at", "order": "DESCENDING"},
        ],
    },
]
#: field overrides of platform collections (TTLs of what the serving functions keep)
PLATFORM_OVERRIDES: list[dict[str, Any]] = [
    {"collectionGroup": "oauth_states", "fieldPath": "expires_at", "ttl": True, "indexes": []},
    {"collectionGroup": "_idempotency", "fieldPath": "_expires_at", "ttl": True, "indexes": []},
    {"collectionGroup": "_views", "fieldPath": "_expires_at", "ttl": True, "indexes": []},
    # shared.webhooks.deliveries: a delivery is remembered 7 days (dedupe), then removed
    {"collectionGroup": "webhook_deliveries", "fieldPath": "expires_at", "ttl": True, "indexes": []},
]
#: engine collections under connections/{id} that clients may read beside the streams
CLIENT_READABLE = ("runs",)


def connectors() -> list[Any]:
    from shared.sync.registry import all_connectors

    return sorted(all_connectors(), key=lambda c: c.vendor)


def check_names(found: list[Any]) -> None:
    """A stream named like an engine collection would be mixed with it: refuse it."""
    from shared.serving.catalog import RESERVED_COLLECTIONS

    for connector in found:
        for stream in connector.streams:
            if (
                stream.name in RESERVED_COLLECTIONS
                or stream.name.startswith("_")
                or not stream.name.replace("_", "").replace("-", "").isalnum()
            ):
                raise SystemExit(
                    f"{connector.vendor}: stream name {stream.name!r} is reserved or not a plain collection id"
                )


# -- indexes ------------------------------------------------------------------------------------


def index_report(found: list[Any]) -> tuple[dict[str, Any], dict[str, int]]:
    """(the indexes file, composite indexes per vendor/stream)."""
    from shared.serving.indexes import dedupe, field_overrides, index_key, stream_indexes, view_indexes

    counts: dict[str, int] = {}
    indexes: list[dict[str, Any]] = []
    overrides: dict[tuple[str, str], dict[str, Any]] = {}
    seen: set[tuple[Any, ...]] = set()

    def add(label: str, new: list[dict[str, Any]]) -> None:
        fresh = [i for i in dedupe(new) if index_key(i) not in seen]
        seen.update(index_key(i) for i in fresh)
        indexes.extend(fresh)
        counts[label] = counts.get(label, 0) + len(fresh)

    for connector in found:
        for stream in connector.streams:
            add(f"{connector.vendor}/{stream.name}", stream_indexes(stream))
            for override in field_overrides(stream):
                overrides.setdefault((override["collectionGroup"], override["fieldPath"]), override)
        for view in connector.views:
            add(
                f"{connector.vendor}/view:{view.name}",
                [
                    i
                    for i in view_indexes(connector)
                    if any(i["collectionGroup"] == spec.collection for spec in view.indexes)
                ],
            )
    add("platform", PLATFORM_INDEXES)
    from shared.crm import kinds as crm

    add("crm", crm.indexes())
    for override in [*PLATFORM_OVERRIDES, *crm.overrides()]:
        overrides.setdefault((override["collectionGroup"], override["fieldPath"]), override)
    document = {"indexes": indexes, "fieldOverrides": [overrides[k] for k in sorted(overrides)]}
    return document, counts


def render_indexes(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"


# -- rules --------------------------------------------------------------------------------------

RULES_TEMPLATE = """rules_version = '2';

// GENERATED by `python -m devtools.firestore_config` from the connectors' declarations:
// do not edit by hand (a test checks that this file is current).
//
// Clients (the dashboards, through the Firebase JS SDK) may only READ synced data, and only
// when signed in with a verified email from an allowed domain, and only the records of a
// connection they may see: an organization's connection, every member; a personal
// connection, its owner (owner.uid) and admins (the `role` custom claim). Every write goes
// through the functions, which use server credentials (IAM, not these rules). Anything not
// matched below is denied. Deleted records (_deleted == true) are readable like the others:
// a client hides them, as the records function does.
service cloud.firestore {
  match /databases/{database}/documents {

    // Rules cannot read environment variables, so infra/terraform/firestore.tf replaces the
    // list on the line ending in "// @allowed-domains" with var.allowed_domains (the same
    // domains as ALLOWED_DOMAINS). Keep that line's shape: one list literal, ";", the marker.
    // Deploying the rules another way (firebase deploy --only firestore:rules): edit the list.
    function allowedDomains() {
      return ["example.com"]; // @allowed-domains
    }

    function signedInFromAllowedDomain() {
      return request.auth != null
        && request.auth.token.email_verified == true
        && request.auth.token.email is string
        && request.auth.token.email.lower().matches('^[^@]+@[^@]+$')
        && request.auth.token.email.lower().split('@')[1] in allowedDomains();
    }

    // The collections under connections/{id} a client may read, per vendor: the streams
    // its connector serves, and sync runs.
    function readableCollections(vendor) {
      return %(served)s.get(vendor, []).concat(%(always)s);
    }

    // The connection document says whose it is (owner.kind, owner.uid) and its vendor.
    function mayRead(connection, collection) {
      let c = get(/databases/$(database)/documents/connections/$(connection)).data;
      return (c.owner.kind == 'org'
          || request.auth.token.get('role', '') == 'admin'
          || (c.owner.kind == 'user' && c.owner.get('uid', '') == request.auth.uid))
        && collection in readableCollections(c.vendor);
    }

    match /connections/{connection}/{collection}/{doc} {
      allow get, list: if signedInFromAllowedDomain() && mayRead(connection, collection);
      allow write: if false;
    }

    match /{document=**} {
      allow read, write: if false;
    }
  }
}
"""


def _list(items: list[str]) -> str:
    return "[" + ", ".join(f"'{item}'" for item in items) + "]"


def render_rules(found: list[Any]) -> str:
    served = {c.vendor: sorted(s.name for s in c.served()) for c in found}
    literal = "{" + ", ".join(f"'{vendor}': {_list(names)}" for vendor, names in sorted(served.items())) + "}"
    return RULES_TEMPLATE % {"served": literal, "always": _list(list(CLIENT_READABLE))}


# -- main ---------------------------------------------------------------------------------------


def build() -> tuple[str, str, dict[str, int]]:
    """(rules text, indexes text, composite indexes per stream)."""
    from shared.serving.indexes import COMPOSITE_INDEX_LIMIT, FIELD_OVERRIDE_LIMIT

    found = connectors()
    check_names(found)
    document, counts = index_report(found)
    if len(document["indexes"]) > COMPOSITE_INDEX_LIMIT:
        raise SystemExit(
            f"{len(document['indexes'])} composite indexes: Firestore allows {COMPOSITE_INDEX_LIMIT}; "
            "declare fewer combinations"
        )
    if len(document["fieldOverrides"]) > FIELD_OVERRIDE_LIMIT:
        raise SystemExit(f"{len(document['fieldOverrides'])} field overrides: Firestore allows {FIELD_OVERRIDE_LIMIT}")
    return render_rules(found), render_indexes(document), counts


def report(counts: dict[str, int], total_overrides: int) -> str:
    from shared.serving.indexes import COMPOSITE_INDEX_LIMIT

    lines = [f"  {label:<40} {count:>4}" for label, count in counts.items()]
    lines.append(
        f"  {'total':<40} {sum(counts.values()):>4} of {COMPOSITE_INDEX_LIMIT} composite indexes; "
        f"{total_overrides} field overrides"
    )
    return "composite indexes per stream:\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.firestore_config", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a committed file is stale")
    parser.add_argument("--rules", type=Path, default=RULES)
    parser.add_argument("--indexes", type=Path, default=INDEXES)
    args = parser.parse_args(argv)
    rules, indexes, counts = build()
    print(report(counts, len(json.loads(indexes)["fieldOverrides"])))
    stale = False
    for path, text in ((args.rules, rules), (args.indexes, indexes)):
        current = path.read_text() if path.exists() else ""
        if args.check:
            if current != text:
                stale = True
                diff = difflib.unified_diff(
                    current.splitlines(), text.splitlines(), "committed", "generated", lineterm="", n=1
                )
                print("\n".join(diff))
                print(
                    f"{path} is stale: run `python -m devtools.firestore_config` and commit it",
                    file=sys.stderr,
                )
        elif current != text:
            path.write_text(text)
            print(f"wrote {path}")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
