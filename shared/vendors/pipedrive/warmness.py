"""Warmness: how recently a contact was in touch (mail) and had activity, as a score 0-100.

    score(t) = 100 * (wc * 2^-((t - tc)/h) + wa * 2^-((t - ta)/h)) / (wc + wa)

with h the half-life, tc the last contact, ta the last activity, wc/wa their weights (a
missing time contributes nothing). Both terms decay with the same half-life, so the score
is 100 * 2^-((t - P)/h) for one instant P, the contact's *priority*: it does not depend on
t. Storing P (`priority_at`) makes "warmest first" a plain index on one field that never
goes stale as days pass; the score itself is computed when read, and "warm" (score >=
threshold) is `priority_at >= now - h * log2(100 / threshold)`.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from pydantic import BaseModel, ConfigDict, Field

DAY_S = 86_400.0


class WarmnessConfig(BaseModel):
    """A connection's warmness settings (connection config `warmness`)."""

    model_config = ConfigDict(extra="forbid")

    half_life_days: float = Field(14.0, gt=0, le=365)
    contact_weight: float = Field(1.0, ge=0, le=10)
    activity_weight: float = Field(0.6, ge=0, le=10)
    #: a contact with at least this score is warm (its activities go to Pipedrive)
    warm_threshold: float = Field(40.0, gt=0, le=100)
    #: the person custom field (by name) that says the contact was added to a campaign
    campaign_field: str = Field("Added to campaign", min_length=1, max_length=200)


def priority_at(
    last_contacted: datetime | None, last_activity: datetime | None, config: WarmnessConfig
) -> datetime | None:
    """The instant P above (None: never in touch, no activity: cold)."""
    terms = [
        (w, t) for w, t in ((config.contact_weight, last_contacted), (config.activity_weight, last_activity))
        if t is not None and w > 0
    ]
    total = config.contact_weight + config.activity_weight
    if not terms or total <= 0:
        return None
    h = config.half_life_days * DAY_S
    newest = max(t.timestamp() for _, t in terms)
    mix = sum(w * 2 ** ((t.timestamp() - newest) / h) for w, t in terms) / total
    return datetime.fromtimestamp(newest + h * math.log2(mix), tz=timezone.utc)


def score(priority: datetime | None, half_life_days: float, now: datetime | None = None) -> float:
    if priority is None:
        return 0.0
    now = now or datetime.now(timezone.utc)
    age_days = max(0.0, (now - priority).total_seconds() / DAY_S)
    return round(100 * 2 ** (-age_days / half_life_days), 2)


def warm_since(config: WarmnessConfig, now: datetime | None = None) -> datetime:
    """Contacts whose priority is at or after this instant are warm now."""
    now = now or datetime.now(timezone.utc)
    return now - timedelta(days=config.half_life_days * math.log2(100 / config.warm_threshold))


def is_warm(priority: datetime | None, config: WarmnessConfig, now: datetime | None = None) -> bool:
    return priority is not None and priority >= warm_since(config, now)
