"""The dashboard's documents, computed after a run that changed something (the connector's
after-run hook), never on page view. Pages then read a bounded number of documents
whatever the number of issues:

    connections/{id}/_dashboard/summary       counts, open issues with their deadlines, names
    connections/{id}/_dashboard/accounts      per account: issues, open, breaches
    connections/{id}/_dashboard/m-YYYY-MM     per UTC day: slices "all", "p:<priority>",
                                              "a:<agent>" of created, resolved, breached and
                                              the first-response and resolution times

A day's `created`, `breached` and `frt` count issues created that day; `resolved` and
`resolution` count issues resolved that day. A breach of an issue still open is judged at
the time of the precompute (the Needs Attention page re-judges open issues at view time).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from shared.vendors.pylon.connector import PylonConfig
from shared.vendors.pylon.metrics import IssueMetrics, compute

if TYPE_CHECKING:
    from google.cloud.firestore import Client

log = logging.getLogger("tributary.pylon.precompute")

COLLECTION = "_dashboard"
#: open issues kept in the summary (oldest first); more are counted, not listed
MAX_OPEN_LISTED = 2000
NO_AGENT = "-"


def day_of(unix: float) -> str:
    return datetime.fromtimestamp(unix, tz=timezone.utc).strftime("%Y-%m-%d")


def load_config(db: Client, connection_id: str) -> PylonConfig:
    """The connection's settings (SLA targets, business hours); defaults when it has none."""
    snap = db.collection("connections").document(connection_id).get()
    config = dict((snap.to_dict() or {}).get("config") or {}) if snap.exists else {}
    config.setdefault("base_url", "https://api.usepylon.com")
    return PylonConfig.model_validate(config)


def _slice() -> dict[str, Any]:
    return {"created": 0, "resolved": 0, "breached": 0, "frt": [], "resolution": []}


def build(issues: list[IssueMetrics], names: dict[str, dict[str, str]], config: PylonConfig,
          now: float) -> dict[str, dict[str, Any]]:
    """Every dashboard document (id -> content) from every issue's metrics."""
    days: dict[str, dict[str, dict[str, Any]]] = defaultdict(lambda: defaultdict(_slice))
    accounts: dict[str, dict[str, Any]] = defaultdict(lambda: {"issues": 0, "open": 0, "breaches": 0})
    for m in issues:
        keys = ("all", f"p:{m.priority}", f"a:{m.agent_id or NO_AGENT}")
        breached = m.breached(now)
        for key in keys:
            bucket = days[day_of(m.created_at)][key]
            bucket["created"] += 1
            bucket["breached"] += int(breached)
            if m.frt_s is not None:
                bucket["frt"].append(round(m.frt_s, 3))
            if m.resolved_at is not None and m.resolution_s is not None:
                done = days[day_of(m.resolved_at)][key]
                done["resolved"] += 1
                done["resolution"].append(round(m.resolution_s, 3))
        if m.account_id:
            entry = accounts[m.account_id]
            entry["issues"] += 1
            entry["open"] += int(m.open)
            entry["breaches"] += int(breached)
    open_issues = sorted((m for m in issues if m.open), key=lambda m: (m.created_at, m.id))
    docs: dict[str, dict[str, Any]] = {}
    for day in sorted(days):
        month = docs.setdefault(f"m-{day[:7]}", {"month": day[:7], "days": {}})
        month["days"][day] = {k: {**v, "frt": sorted(v["frt"]), "resolution": sorted(v["resolution"])}
                              for k, v in days[day].items()}
    account_names = names.get("accounts", {})
    docs["accounts"] = {"accounts": {k: {**v, "name": account_names.get(k)} for k, v in accounts.items()}}
    docs["summary"] = {
        "computed_at": now,
        "issues": len(issues),
        "open": len(open_issues),
        "closed": len(issues) - len(open_issues),
        "open_issues": [m.as_dict() for m in open_issues[:MAX_OPEN_LISTED]],
        "open_listed_all": len(open_issues) <= MAX_OPEN_LISTED,
        "agents": names.get("users", {}),
        "at_risk_s": config.at_risk_s,
        "months": sorted(k[2:] for k in docs if k.startswith("m-")),
    }
    return docs


def _names(db: Client, connection_id: str, stream: str) -> dict[str, str]:
    coll = db.collection("connections").document(connection_id).collection(stream)
    return {s.id: (s.get("name") or s.id) for s in coll.select(["name"]).stream() if not (s.to_dict() or {}).get("_deleted")}


def refresh(db: Client, connection_id: str, now: float | None = None) -> int:
    """Recompute every dashboard document from the stored issues and messages; the number
    of issues read. Reads every issue and message once: it runs only after a run that wrote
    something, never per page view."""
    config = load_config(db, connection_id)
    base = db.collection("connections").document(connection_id)
    by_issue: dict[str, list[dict[str, Any]]] = defaultdict(list)
    fields = ["parent_id", "timestamp", "author_kind", "user_id", "is_private", "_deleted"]
    for snap in base.collection("messages").select(fields).stream():
        data = snap.to_dict() or {}
        if data.get("parent_id") and not data.get("_deleted"):
            by_issue[str(data["parent_id"])].append(data)
    metrics = []
    for snap in base.collection("issues").stream():
        issue = snap.to_dict() or {}
        if issue.get("_deleted") or issue.get("created_at") is None:
            continue
        metrics.append(compute(issue, by_issue.get(snap.id, []), config))
    names = {"users": _names(db, connection_id, "users"), "accounts": _names(db, connection_id, "accounts")}
    docs = build(metrics, names, config, now if now is not None else datetime.now(timezone.utc).timestamp())
    batch, pending = db.batch(), 0
    for doc_id, content in docs.items():
        batch.set(base.collection(COLLECTION).document(doc_id), content)
        pending += 1
        if pending == 400:
            batch.commit()
            batch, pending = db.batch(), 0
    if pending:
        batch.commit()
    log.info("pylon_dashboard_refreshed", extra={"connection_id": connection_id, "issues": len(metrics)})
    return len(metrics)
