"""The dashboard's documents, computed after a run that changed something (the connector's
after-run hook), never on page view. Pages then read a bounded number of documents
whatever the number of issues:

    connections/{id}/_dashboard/summary       counts, open issues with their deadlines, names
    connections/{id}/_dashboard/accounts      per account: issues, open, breaches
    connections/{id}/_dashboard/m-YYYY-MM     per UTC day: slices "all", "p:<priority>",
                                              "a:<agent>" of created, resolved, breached and
                                              the first-response and resolution times
    connections/{id}/_dashboard_issues/{issue}  one issue's metrics and the months it counts
                                              in (what an incremental refresh rebuilds from)

A day's `created`, `breached` and `frt` count issues created that day; `resolved` and
`resolution` count issues resolved that day. A breach of an issue still open is judged at
the time of the precompute (the Needs Attention page re-judges open issues at view time).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from shared.connections.refs import connection_ref
from shared.vendors.pylon.connector import PylonConfig
from shared.vendors.pylon.dashboard import COLLECTION
from shared.vendors.pylon.metrics import IssueMetrics, compute

if TYPE_CHECKING:
    from google.cloud.firestore import Client

log = logging.getLogger("tributary.pylon.precompute")

#: one document per issue: its metrics and the months it counts in, so a refresh can take an
#: issue's old contribution out of the buckets it leaves
METRICS_COLLECTION = "_dashboard_issues"
#: open issues kept in the summary (oldest first); more are counted, not listed
MAX_OPEN_LISTED = 2000
NO_AGENT = "-"


def day_of(unix: float) -> str:
    return datetime.fromtimestamp(unix, tz=timezone.utc).strftime("%Y-%m-%d")


def load_config(db: Client, connection_id: str) -> PylonConfig:
    """The connection's settings (SLA targets, business hours); defaults when it has none."""
    snap = connection_ref(db, connection_id).get()
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
    coll = connection_ref(db, connection_id).collection(stream)
    return {s.id: (s.get("name") or s.id) for s in coll.select(["name", "_deleted"]).stream()
            if not (s.to_dict() or {}).get("_deleted")}


def _month(unix: float) -> str:
    return day_of(unix)[:7]


def _months_of(m: IssueMetrics) -> list[str]:
    """The month documents an issue counts in: its creation's and its resolution's."""
    return sorted({_month(m.created_at)} | ({_month(m.resolved_at)} if m.resolved_at is not None else set()))


def _stamp(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value or 0.0)


def _committed(data: dict[str, Any]) -> float:
    return _stamp((data.get("_sync") or {}).get("committed_at"))


def _write(db: Client, sets: dict[Any, dict[str, Any]], deletes: Sequence[Any] = ()) -> None:
    """Sets and deletes in commits of at most 400."""
    batch, pending = db.batch(), 0
    for ref, content in [*sets.items(), *((ref, None) for ref in deletes)]:
        if content is None:
            batch.delete(ref)
        else:
            batch.set(ref, content)
        pending += 1
        if pending == 400:
            batch.commit()
            batch, pending = db.batch(), 0
    if pending:
        batch.commit()


def _metrics_of(db: Client, connection_id: str, issue_ids: list[str] | None,
                config: PylonConfig) -> tuple[dict[str, IssueMetrics], float]:
    """Metrics of these issues (None: every issue) from the stored issues and messages, and
    the newest commit time among what was read."""
    base = connection_ref(db, connection_id)
    fields = ["parent_id", "timestamp", "author_kind", "user_id", "is_private", "_deleted", "_sync.committed_at"]
    by_issue: dict[str, list[dict[str, Any]]] = defaultdict(list)
    newest = 0.0
    if issue_ids is None:
        message_snaps: Any = base.collection("messages").select(fields).stream()
        issue_snaps: Any = base.collection("issues").stream()
    else:
        from google.cloud.firestore_v1.base_query import FieldFilter

        message_snaps = [snap for n in range(0, len(issue_ids), 30)
                         for snap in base.collection("messages").where(
                             filter=FieldFilter("parent_id", "in", issue_ids[n:n + 30])).select(fields).stream()]
        issue_snaps = db.get_all([base.collection("issues").document(i) for i in issue_ids])
    for snap in message_snaps:
        data = snap.to_dict() or {}
        newest = max(newest, _committed(data))
        if data.get("parent_id") and not data.get("_deleted"):
            by_issue[str(data["parent_id"])].append(data)
    metrics = {}
    for snap in issue_snaps:
        issue = (snap.to_dict() or {}) if snap.exists else {}
        newest = max(newest, _committed(issue))
        if issue and not issue.get("_deleted") and issue.get("created_at") is not None:
            metrics[snap.id] = compute({**issue, "id": issue.get("id") or snap.id}, by_issue.get(snap.id, []), config)
    return metrics, newest


def _stored(m: IssueMetrics) -> dict[str, Any]:
    return {**m.as_dict(), "months": _months_of(m)}


def _loaded(data: dict[str, Any]) -> IssueMetrics:
    return IssueMetrics(**{k: v for k, v in data.items() if k != "months"})


def refresh(db: Client, connection_id: str, now: float | None = None, full: bool = False) -> int:
    """Bring the dashboard documents up to date after a run (or a webhook) changed records;
    the number of issues whose metrics were computed.

    Incremental once a full computation has run: the issues changed since the last refresh
    (their own commit, or one of their messages') are recomputed, then only the buckets
    they touch before and after (their months, their accounts) and the months of open
    issues (whose breaches are judged at `now`) are rebuilt, from one metrics document
    per issue. The first refresh, or `full`, reads every issue and message."""
    now = now if now is not None else datetime.now(timezone.utc).timestamp()
    config = load_config(db, connection_id)
    summary = _dashboard(db, connection_id).document("summary").get()
    mark = (summary.to_dict() or {}).get("changes_through") if summary.exists else None
    if full or mark is None or not (summary.to_dict() or {}).get("open_listed_all", True):
        return _full(db, connection_id, config, now)
    return _incremental(db, connection_id, config, now, summary.to_dict() or {}, float(mark))


def _dashboard(db: Client, connection_id: str) -> Any:
    return connection_ref(db, connection_id).collection(COLLECTION)


def _per_issue(db: Client, connection_id: str) -> Any:
    return connection_ref(db, connection_id).collection(METRICS_COLLECTION)


def _full(db: Client, connection_id: str, config: PylonConfig, now: float) -> int:
    metrics, newest = _metrics_of(db, connection_id, None, config)
    names = {"users": _names(db, connection_id, "users"), "accounts": _names(db, connection_id, "accounts")}
    docs = build(list(metrics.values()), names, config, now)
    docs["summary"]["changes_through"] = newest
    dashboard, per_issue = _dashboard(db, connection_id), _per_issue(db, connection_id)
    stale = [s.reference for s in dashboard.select([]).stream() if s.id not in docs]
    stale += [s.reference for s in per_issue.select([]).stream() if s.id not in metrics]
    sets = {dashboard.document(k): v for k, v in docs.items()}
    sets.update({per_issue.document(k): _stored(m) for k, m in metrics.items()})
    _write(db, sets, stale)
    log.info("pylon_dashboard_refreshed", extra={"connection_id": connection_id, "issues": len(metrics), "full": True})
    return len(metrics)


def _changed_since(db: Client, connection_id: str, mark: float) -> set[str]:
    """Issues committed after `mark` (the newest commit the last refresh read), themselves
    or one of their messages. A refresh runs once a run has finished writing, and commit
    times are the server's, so nothing older than the mark can still appear."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    since = datetime.fromtimestamp(mark, tz=timezone.utc)
    base = connection_ref(db, connection_id)
    changed: set[str] = set()
    for stream, field in (("issues", None), ("messages", "parent_id")):
        query = base.collection(stream).where(filter=FieldFilter("_sync.committed_at", ">", since))
        for snap in query.select([field] if field else []).stream():
            changed.add(str((snap.to_dict() or {}).get(field)) if field else snap.id)
    changed.discard("None")
    return changed


def _incremental(db: Client, connection_id: str, config: PylonConfig, now: float, summary: dict[str, Any],
                 mark: float) -> int:
    changed = sorted(_changed_since(db, connection_id, mark))
    per_issue, dashboard = _per_issue(db, connection_id), _dashboard(db, connection_id)
    old = {s.id: _loaded(s.to_dict() or {}) for s in db.get_all([per_issue.document(i) for i in changed]) if s.exists}
    new, newest = _metrics_of(db, connection_id, changed, config) if changed else ({}, 0.0)
    open_before = {str(i["id"]) for i in summary.get("open_issues", [])}
    # the months and accounts these issues counted in before and count in now, and the
    # months of every open issue (its breach is judged again at `now`)
    months = {mo for m in [*old.values(), *new.values()] for mo in _months_of(m)}
    months |= {_month(float(i["created_at"])) for i in summary.get("open_issues", [])}
    months |= {_month(m.created_at) for m in new.values() if m.open}
    accounts = {m.account_id for m in [*old.values(), *new.values()] if m.account_id}
    _write(db, {per_issue.document(k): _stored(m) for k, m in new.items()},
           [per_issue.document(k) for k in changed if k not in new])

    from google.cloud.firestore_v1.base_query import FieldFilter

    sets: dict[Any, dict[str, Any]] = {}
    deletes = []
    listed = set(summary.get("months", []))
    for month in sorted(months):
        members = [_loaded(s.to_dict() or {}) for s in
                   per_issue.where(filter=FieldFilter("months", "array_contains", month)).stream()]
        doc = build(members, {}, config, now).get(f"m-{month}")
        if doc is None:
            deletes.append(dashboard.document(f"m-{month}"))
            listed.discard(month)
        else:
            sets[dashboard.document(f"m-{month}")] = doc
            listed.add(month)
    if accounts:
        entries = dict((dashboard.document("accounts").get().to_dict() or {}).get("accounts") or {})
        base = connection_ref(db, connection_id).collection("accounts")
        account_names = {s.id: (s.to_dict() or {}).get("name") or s.id
                         for s in db.get_all([base.document(a) for a in accounts])
                         if s.exists and not (s.to_dict() or {}).get("_deleted")}
        for account in accounts:
            members = [_loaded(s.to_dict() or {}) for s in
                       per_issue.where(filter=FieldFilter("account_id", "==", account)).stream()]
            entry = build(members, {"accounts": account_names}, config, now)["accounts"]["accounts"].get(account)
            if entry is None:
                entries.pop(account, None)
            else:
                entries[account] = entry
        sets[dashboard.document("accounts")] = {"accounts": entries}
    still_open = [i for i in summary.get("open_issues", []) if str(i["id"]) not in set(changed)]
    still_open += [m.as_dict() for m in new.values() if m.open]
    still_open.sort(key=lambda i: (i["created_at"], i["id"]))
    issues = int(summary.get("issues", 0)) + len(new) - len(old)
    opened = len(open_before - set(changed)) + sum(1 for m in new.values() if m.open)
    sets[dashboard.document("summary")] = {
        **summary, "computed_at": now, "issues": issues, "open": opened, "closed": issues - opened,
        "open_issues": still_open[:MAX_OPEN_LISTED], "open_listed_all": opened <= MAX_OPEN_LISTED,
        "agents": _names(db, connection_id, "users"), "at_risk_s": config.at_risk_s, "months": sorted(listed),
        "changes_through": max(mark, newest),
    }
    _write(db, sets, deletes)
    log.info("pylon_dashboard_refreshed", extra={"connection_id": connection_id, "issues": len(new), "full": False,
                                                 "months": len(months), "accounts": len(accounts)})
    return len(new)
