"""The dashboard pages and the chart-spec evaluator, answered from the precomputed documents
(precompute.py) only. Reads per answer, whatever the number of issues:

    needs attention   1 (summary)
    accounts          1 (accounts)
    overview          1 + months of the period (summary + at most 13 month documents)
    performance       1 + months of the period
    trends, chart     months of the period (at most 13)

A period is at most 366 days, so no answer reads more than 14 documents (plus the
connection document the access check reads).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from statistics import median
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.connections.refs import connection_ref

#: where precompute.py writes what the pages read (here, so a page's import is not the connector's)
COLLECTION = "_dashboard"

if TYPE_CHECKING:
    from google.cloud.firestore import Client

MAX_PERIOD_DAYS = 366
MAX_READS = 14
Metric = Literal["created", "resolved", "breached", "first_response_median_s", "resolution_median_s"]


class Period(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_: date = Field(alias="from")
    to: date

    @model_validator(mode="after")
    def _bounded(self) -> Period:
        if self.to < self.from_:
            raise ValueError("to must not be before from")
        if (self.to - self.from_).days >= MAX_PERIOD_DAYS:
            raise ValueError(f"a period is at most {MAX_PERIOD_DAYS} days")
        return self


class ChartSpec(BaseModel):
    """What a chart shows: a metric per bucket of a period, optionally one series per
    priority or agent, filtered to some priorities or agents."""

    model_config = ConfigDict(extra="forbid")

    metric: Metric
    group_by: Literal["none", "priority", "agent"] = "none"
    filters: dict[Literal["priority", "agent_id"], list[str]] = Field(default_factory=dict)
    period: Period
    bucket: Literal["day", "week", "month"] = "day"
    chart_type: Literal["line", "bar", "area", "table"] = "line"

    @model_validator(mode="after")
    def _one_dimension(self) -> ChartSpec:
        dims = set(self.filters) | ({self.group_by.replace("agent", "agent_id")} - {"none"})
        if len(dims) > 1:
            raise ValueError("filters and group_by may use one dimension (priority or agent_id) at a time")
        return self


def _doc(db: Client, connection_id: str, doc_id: str) -> dict[str, Any]:
    snap = connection_ref(db, connection_id).collection(COLLECTION).document(doc_id).get()
    return (snap.to_dict() or {}) if snap.exists else {}


def _days(db: Client, connection_id: str, period: Period) -> dict[str, dict[str, Any]]:
    """Every day bucket of the period, from one document per month (one batched read)."""
    months = sorted({(period.from_ + timedelta(days=n)).strftime("%Y-%m")
                     for n in range((period.to - period.from_).days + 1)})
    coll = connection_ref(db, connection_id).collection(COLLECTION)
    out: dict[str, dict[str, Any]] = {}
    for snap in db.get_all([coll.document(f"m-{m}") for m in months]):
        for day, bucket in ((snap.to_dict() or {}).get("days") or {}).items() if snap.exists else ():
            if period.from_.isoformat() <= day <= period.to.isoformat():
                out[day] = bucket
    return out


def _value(buckets: list[dict[str, Any]], metric: str) -> float | int | None:
    if metric in ("created", "resolved", "breached"):
        return sum(int(b.get(metric, 0)) for b in buckets)
    key = "frt" if metric == "first_response_median_s" else "resolution"
    values = [v for b in buckets for v in b.get(key, [])]
    return median(values) if values else None


def _bucket_of(day: str, bucket: str) -> str:
    d = date.fromisoformat(day)
    if bucket == "week":
        return (d - timedelta(days=d.weekday())).isoformat()
    return day[:7] if bucket == "month" else day


def needs_attention(db: Client, connection_id: str, now: float, limit: int = 100) -> dict[str, Any]:
    """Open issues breaching or about to breach, or unanswered; oldest first."""
    summary = _doc(db, connection_id, "summary")
    at_risk = float(summary.get("at_risk_s", 3600))
    items = []
    for issue in summary.get("open_issues", []):
        deadlines = [d for d in (None if issue.get("first_response_at") else issue.get("frt_deadline"),
                                 issue.get("resolution_deadline")) if d is not None]
        next_deadline = min(deadlines) if deadlines else None
        to_breach = next_deadline - now if next_deadline is not None else None
        reasons = [r for r, hit in (("breached", to_breach is not None and to_breach < 0),
                                    ("at_risk", to_breach is not None and 0 <= to_breach <= at_risk),
                                    ("unanswered", bool(issue.get("unanswered")))) if hit]
        if reasons:
            items.append({**{k: issue.get(k) for k in ("id", "number", "title", "priority", "account_id", "assignee_id",
                                                      "created_at")},
                          "reasons": reasons, "time_to_breach_s": to_breach, "age_s": now - issue["created_at"]})
    return {"items": items[:limit], "total": len(items), "complete": bool(summary.get("open_listed_all", True))}


def overview(db: Client, connection_id: str, period: Period, now: float) -> dict[str, Any]:
    summary = _doc(db, connection_id, "summary")
    buckets = [b.get("all", {}) for b in _days(db, connection_id, period).values()]
    ages = sorted(now - i["created_at"] for i in summary.get("open_issues", []))
    return {"created": _value(buckets, "created"), "resolved": _value(buckets, "resolved"),
            "breached": _value(buckets, "breached"),
            "first_response_median_s": _value(buckets, "first_response_median_s"),
            "resolution_median_s": _value(buckets, "resolution_median_s"),
            "open_now": summary.get("open", 0), "closed_now": summary.get("closed", 0),
            "backlog_median_age_s": median(ages) if ages else None, "backlog_oldest_age_s": ages[-1] if ages else None}


def performance(db: Client, connection_id: str, period: Period) -> dict[str, Any]:
    names = _doc(db, connection_id, "summary").get("agents", {})
    per_agent: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for buckets in _days(db, connection_id, period).values():
        for key, bucket in buckets.items():
            if key.startswith("a:"):
                per_agent[key[2:]].append(bucket)
    rows = [{"agent_id": agent, "name": names.get(agent), "issues_handled": _value(b, "created"),
             "resolved": _value(b, "resolved"), "first_response_median_s": _value(b, "first_response_median_s"),
             "resolution_median_s": _value(b, "resolution_median_s")} for agent, b in per_agent.items()]
    return {"agents": sorted(rows, key=lambda r: (-int(r["issues_handled"] or 0), r["agent_id"]))}


def accounts(db: Client, connection_id: str, limit: int = 200) -> dict[str, Any]:
    rows = [{"account_id": k, **v} for k, v in _doc(db, connection_id, "accounts").get("accounts", {}).items()]
    rows.sort(key=lambda r: (-r["issues"], r["account_id"]))
    return {"accounts": rows[:limit], "total": len(rows)}


def chart(db: Client, connection_id: str, spec: ChartSpec) -> dict[str, Any]:
    """The spec's series, ready for a chart library: labels and one data list per series."""
    return _series(_days(db, connection_id, spec.period), spec)


def _series(days: dict[str, dict[str, Any]], spec: ChartSpec) -> dict[str, Any]:
    prefix = {"none": None, "priority": "p:", "agent": "a:"}[spec.group_by]
    wanted = [("p:" if dim == "priority" else "a:") + v for dim, vals in spec.filters.items() for v in vals]
    labels = sorted({_bucket_of(d, spec.bucket) for d in days})
    grouped: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for day, buckets in days.items():
        label = _bucket_of(day, spec.bucket)
        for key, bucket in buckets.items():
            if wanted and key not in wanted:
                continue
            if prefix is None and (key == "all" if not wanted else True):
                grouped["all"][label].append(bucket)
            elif prefix is not None and key.startswith(prefix):
                grouped[key[len(prefix):]][label].append(bucket)
    series = [{"name": name, "data": [_value(by_label.get(label, []), spec.metric) for label in labels]}
              for name, by_label in sorted(grouped.items())]
    return {"chart_type": spec.chart_type, "metric": spec.metric, "labels": labels, "series": series}


def trends(db: Client, connection_id: str, period: Period, bucket: Literal["day", "week"]) -> dict[str, Any]:
    """Created, resolved, breached and the medians per day or week: one chart's data."""
    days = _days(db, connection_id, period)
    out: dict[str, Any] = {"labels": [], "series": []}
    metrics: tuple[Metric, ...] = ("created", "resolved", "breached", "first_response_median_s", "resolution_median_s")
    for metric in metrics:
        spec = ChartSpec(metric=metric, period=period, bucket=bucket)
        answer = _series(days, spec)
        out["labels"] = answer["labels"]
        out["series"].append({"name": metric, "data": answer["series"][0]["data"] if answer["series"] else []})
    return out
