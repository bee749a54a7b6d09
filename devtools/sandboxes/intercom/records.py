"""Compact in-memory records for the sandbox data set.

Records keep only what varies per object (slots, tuples, small dicts); the full Intercom
JSON shape is rendered per response by render.py. That keeps 100k contacts cheap to hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# (country, region, city, country_code, continent_code)
Location = tuple[str, str, str, str, str]

TAGS: tuple[tuple[str, str], ...] = tuple(
    (str(7_000_000 + i), name)
    for i, name in enumerate(
        ("vip", "churn-risk", "beta", "enterprise", "trial", "partner", "billing-issue", "feature-request",
         "bug", "onboarding", "renewal", "upsell", "nps-promoter", "nps-detractor", "escalated", "training")
    )
)
TAG_NAMES: dict[str, str] = dict(TAGS)
TEAM_IDS: tuple[int, ...] = (5_017_001, 5_017_002, 5_017_003, 5_017_004)


@dataclass(slots=True)
class Admin:
    id: str
    name: str
    email: str
    job_title: str
    away_mode_enabled: bool
    team_ids: tuple[int, ...]
    has_inbox_seat: bool


@dataclass(slots=True)
class Company:
    id: str
    company_id: str
    name: str
    created_at: int
    updated_at: int
    remote_created_at: int
    last_request_at: int
    monthly_spend: int
    session_count: int
    size: int
    website: str
    industry: str
    plan: str
    tag_ids: tuple[str, ...]
    custom_attributes: dict[str, str]
    user_count: int = 0


@dataclass(slots=True)
class Contact:
    id: str
    external_id: str | None
    role: str
    email: str
    name: str | None
    phone: str | None
    created_at: int
    updated_at: int
    signed_up_at: int | None
    last_seen_at: int | None
    last_replied_at: int | None
    owner_id: int | None
    location: Location
    browser: str
    os: str
    unsubscribed_from_emails: bool
    custom_attributes: dict[str, Any]
    company_ids: tuple[str, ...]
    tag_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Part:
    """One conversation part after the source message (timeline.py builds and reads them)."""

    index: int
    part_type: str  # comment | assignment | close | open | snoozed
    created_at: int
    author_type: str  # admin | user | lead
    author_id: str
    body: str | None
    state: str  # the conversation's state right after this part
    assigned_to: str | None = None  # admin id, on assignment parts
    until: int | None = None  # snoozed_until, on snoozed parts


@dataclass(slots=True)
class Conversation:
    id: str
    created_at: int
    updated_at: int
    state: str
    read: bool
    priority: str
    admin_assignee_id: int | None
    team_assignee_id: int | None
    title: str | None
    source_type: str
    delivered_as: str
    subject: str
    body: str
    author_type: str
    author_id: str
    contact_ids: tuple[str, ...]
    tag_ids: tuple[str, ...]
    waiting_since: int | None
    snoozed_until: int | None
    statistics: dict[str, int | str | None] = field(default_factory=dict)
    custom_attributes: dict[str, Any] = field(default_factory=dict)
    # What the timeline is rebuilt from (parts are not stored: 20k conversations would hold
    # hundreds of thousands of them): its seed and horizon, who speaks, and the parts
    # /_sandbox/mutate appended afterwards.
    seed: int = 0
    horizon: int = 0
    responder_id: str = ""
    customer_id: str | None = None
    customer_type: str = "user"
    extra_parts: list[Part] = field(default_factory=list)
    teammate_ids: tuple[str, ...] = ()  # admins who wrote a part (or the source)
