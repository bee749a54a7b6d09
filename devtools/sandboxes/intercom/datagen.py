"""Deterministic data generation: the same DataConfig always yields the same data set.

One random.Random per kind, seeded from the config seed, so changing the number of
contacts does not reshuffle admins or companies. Everything is dated in the
`history_days` before the fixed epoch. Linear in the sizes; 10k contacts plus 20k
conversations take well under a couple of seconds, 1,000,000 contacts about ten.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from devtools.sandboxes.intercom import timeline
from devtools.sandboxes.intercom.config import DataConfig
from devtools.sandboxes.intercom.records import (
    TAGS,
    TEAM_IDS,
    Admin,
    Company,
    Contact,
    Conversation,
    Location,
)

T = TypeVar("T")
DAY = 86_400
FIRST = ("Ada", "Ben", "Chloe", "Dev", "Elif", "Femi", "Grace", "Hugo", "Ines", "Jon", "Kira", "Liam", "Maya",
         "Noor", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tariq", "Uma", "Vera", "Wes", "Xin", "Yara", "Zoe")
LAST = ("Okafor", "Silva", "Nguyen", "Schmidt", "Rossi", "Kowalski", "Haddad", "Tanaka", "Murphy", "Larsen",
        "Costa", "Novak", "Patel", "Garcia", "Dubois", "Kim", "Ali", "Meyer", "Olsen", "Ivanova")
DOMAINS = ("example.com", "example.org", "mail.test", "corp.test", "startup.test")
WORDS = ("Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Tyrell", "Cyberdyne", "Soylent", "Hooli",
         "Vandelay", "Wonka", "Gringotts", "Oceanic", "Aperture", "Massive", "Dynamic", "Blue", "North", "Bright")
SUFFIX = ("Ltd", "Inc", "GmbH", "Labs", "Group", "Systems", "Partners", "Co")
INDUSTRIES = ("software", "retail", "finance", "health", "education", "manufacturing", "media", "logistics")
PLANS = ("free", "starter", "pro", "enterprise")
TOPICS = ("onboarding", "billing", "api", "security", "reporting", "integrations", "mobile", "sso")
LOCATIONS: tuple[Location, ...] = (
    ("United States", "California", "San Francisco", "USA", "NA"),
    ("United States", "New York", "New York", "USA", "NA"),
    ("Ireland", "Dublin", "Dublin", "IRL", "EU"),
    ("Germany", "Berlin", "Berlin", "DEU", "EU"),
    ("France", "Ile-de-France", "Paris", "FRA", "EU"),
    ("Brazil", "Sao Paulo", "Sao Paulo", "BRA", "SA"),
    ("India", "Karnataka", "Bengaluru", "IND", "AS"),
    ("Japan", "Tokyo", "Tokyo", "JPN", "AS"),
    ("Australia", "New South Wales", "Sydney", "AUS", "OC"),
    ("Nigeria", "Lagos", "Lagos", "NGA", "AF"),
)
BROWSERS = ("chrome", "firefox", "safari", "edge")
OSES = ("macOS 14", "Windows 11", "Ubuntu", "iOS 17", "Android 14")
SOURCES = (("conversation", "customer_initiated"), ("email", "customer_initiated"), ("conversation", "admin_initiated"),
           ("whatsapp", "customer_initiated"), ("sms", "customer_initiated"), ("push", "automated"))
SUBJECTS = ("Cannot log in", "Invoice question", "API rate limits", "SSO setup", "Export my data",
            "Bug in reports", "Upgrade plan", "Training session", "Webhook failures", "Mobile app crash")


@dataclass
class Dataset:
    admins: list[Admin]
    companies: list[Company]
    contacts: list[Contact]
    conversations: list[Conversation]


def object_id(created_at: int, kind: int, seed: int, n: int) -> str:
    """A 24-hex id shaped like Intercom's (Mongo ObjectId: creation time first), unique per n."""
    return f"{created_at & 0xFFFFFFFF:08x}{(seed * 40503) & 0xFFFF:04x}{kind:02x}{n:010x}"


def _rng(config: DataConfig, kind: str) -> random.Random:
    return random.Random(f"{config.seed}:{kind}")


def _admins(config: DataConfig) -> list[Admin]:
    rng = _rng(config, "admins")
    out = []
    for i in range(config.admins):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
        out.append(Admin(
            id=str(991_200_000 + i), name=f"{first} {last}", email=f"{first.lower()}.{last.lower()}{i}@support.test",
            job_title=rng.choice(("Support Engineer", "Success Manager", "Support Lead", "Solutions Engineer")),
            away_mode_enabled=rng.random() < 0.1, team_ids=(TEAM_IDS[i % len(TEAM_IDS)],),
            has_inbox_seat=rng.random() < 0.9,
        ))
    return out


def _companies(config: DataConfig) -> list[Company]:
    rng = _rng(config, "companies")
    start = config.epoch - config.history_days * DAY
    out = []
    for i in range(config.companies):
        created = rng.randint(start - 365 * DAY, config.epoch - DAY)
        updated = rng.randint(created, config.epoch - 60)
        name = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {rng.choice(SUFFIX)} {i}"
        out.append(Company(
            id=object_id(created, 0xC0, config.seed, i), company_id=f"cmp-{i:06d}", name=name,
            created_at=created, updated_at=updated, remote_created_at=created - rng.randint(0, 900 * DAY),
            last_request_at=rng.randint(updated - 30 * DAY, updated), monthly_spend=rng.choice((0, 49, 99, 499, 1999)),
            session_count=rng.randint(0, 5000), size=rng.choice((5, 20, 80, 250, 1200)),
            website=f"https://www.company{i}.test", industry=rng.choice(INDUSTRIES), plan=rng.choice(PLANS),
            tag_ids=tuple(t[0] for t in rng.sample(TAGS, rng.randint(0, 2))),
            custom_attributes={"segment": rng.choice(("smb", "mid-market", "enterprise")),
                               "account_manager": rng.choice(FIRST)},
        ))
    out.sort(key=lambda c: (c.created_at, c.id))
    return out


def _pick(rng: random.Random, seq: Sequence[T]) -> T:
    """rng.choice without its Python-level rejection sampling: one C call per draw, which is
    what makes a 1,000,000-contact reset take seconds instead of a minute."""
    return seq[int(rng.random() * len(seq))]


def _between(rng: random.Random, low: int, high: int) -> int:
    """An integer in [low, high] (rng.randint, drawn the cheap way)."""
    return low + int(rng.random() * (high - low + 1))


def _some(rng: random.Random, seq: Sequence[T], k: int) -> list[T]:
    """k (at most 2) distinct members of seq (rng.sample, drawn the cheap way)."""
    if k <= 0 or not seq:
        return []
    i = int(rng.random() * len(seq))
    if k == 1 or len(seq) == 1:
        return [seq[i]]
    j = int(rng.random() * (len(seq) - 1))
    return [seq[i], seq[j + (j >= i)]]


def make_contact(rng: random.Random, config: DataConfig, n: int, created: int, updated: int,
                 admins: list[Admin], companies: list[Company]) -> Contact:
    """One contact belonging to 0-2 of `companies`; also used by /_sandbox/mutate."""
    role = "user" if rng.random() < 0.7 else "lead"
    first, last = _pick(rng, FIRST), _pick(rng, LAST)
    seen = _between(rng, created, updated) if rng.random() < 0.85 else None
    n_companies = _pick(rng, (0, 1, 1, 1, 2)) if companies and role == "user" else 0
    return Contact(
        id=object_id(created, 0xA1, config.seed, n), external_id=f"usr-{n:07d}" if role == "user" else None,
        role=role, email=f"{first.lower()}.{last.lower()}.{n}@{_pick(rng, DOMAINS)}",
        name=f"{first} {last}" if rng.random() < 0.95 else None,
        phone=f"+1555{_between(rng, 0, 9_999_999):07d}" if rng.random() < 0.6 else None,
        created_at=created, updated_at=updated, signed_up_at=created if role == "user" else None,
        last_seen_at=seen, last_replied_at=_between(rng, created, updated) if rng.random() < 0.4 else None,
        owner_id=int(_pick(rng, admins).id) if rng.random() < 0.3 else None, location=_pick(rng, LOCATIONS),
        browser=_pick(rng, BROWSERS), os=_pick(rng, OSES), unsubscribed_from_emails=rng.random() < 0.05,
        custom_attributes={"training_topic": _pick(rng, TOPICS), "plan_tier": _pick(rng, PLANS),
                           "seats": _between(rng, 1, 500), "nps": _between(rng, 0, 10)},
        company_ids=tuple(c.id for c in _some(rng, companies, n_companies)),
        tag_ids=tuple(t[0] for t in _some(rng, TAGS, _pick(rng, (0, 0, 1, 2)))),
    )


def _contacts(config: DataConfig, admins: list[Admin], companies: list[Company]) -> list[Contact]:
    """Contacts drawn over `companies` (the ones meant to have users)."""
    rng = _rng(config, "contacts")
    start = config.epoch - config.history_days * DAY
    out = []
    for i in range(config.contacts):
        created = _between(rng, start, config.epoch - 3600)
        updated = min(config.epoch - 1, created + int(rng.expovariate(1 / (20 * DAY))))
        out.append(make_contact(rng, config, i, created, updated, admins, companies))
    out.sort(key=lambda c: (c.created_at, c.id))
    return out


def make_conversation(rng: random.Random, config: DataConfig, n: int, created: int, limit: int,
                      admins: list[Admin], contacts: list[Contact]) -> Conversation:
    """One conversation whose timeline lies within [created, limit]; also used by /_sandbox/mutate.

    Its parts, state and statistics come from timeline.py (seeded per conversation), so the
    statistics always agree with the parts GET /conversations/{id} shows.
    """
    source_type, delivered_as = rng.choice(SOURCES)
    contact = rng.choice(contacts) if contacts else None
    if contact is None and delivered_as == "customer_initiated":
        delivered_as = "admin_initiated"
    responder = rng.choice(admins)
    subject = rng.choice(SUBJECTS)
    by_customer = delivered_as == "customer_initiated"
    v = Conversation(
        id=str(100_000_000 + n), created_at=created, updated_at=created, state="open", read=rng.random() < 0.8,
        priority="priority" if rng.random() < 0.1 else "not_priority",
        admin_assignee_id=int(responder.id) if rng.random() < 0.85 else None,
        team_assignee_id=rng.choice(TEAM_IDS) if rng.random() < 0.5 else None,
        title=subject if rng.random() < 0.6 else None, source_type=source_type, delivered_as=delivered_as,
        subject=subject if source_type == "email" else "",
        body=f"<p>{subject}: conversation {n}</p>",
        author_type=contact.role if by_customer and contact else "admin",
        author_id=contact.id if by_customer and contact else responder.id,
        contact_ids=(contact.id,) if contact else (),
        tag_ids=tuple(t[0] for t in rng.sample(TAGS, rng.choice((0, 0, 1, 2)))),
        waiting_since=None, snoozed_until=None, custom_attributes={"training_topic": rng.choice(TOPICS)},
        seed=rng.getrandbits(48), horizon=limit, responder_id=responder.id,
        customer_id=contact.id if contact else None, customer_type=contact.role if contact else "user",
    )
    timeline.refresh(v)
    return v


def _conversations(config: DataConfig, admins: list[Admin], contacts: list[Contact]) -> list[Conversation]:
    rng = _rng(config, "conversations")
    start = config.epoch - config.history_days * DAY
    out = [make_conversation(rng, config, i, rng.randint(start, config.epoch - 3600), config.epoch - 1, admins, contacts)
           for i in range(config.conversations)]
    out.sort(key=lambda c: (c.created_at, int(c.id)))
    return out


def _with_users(config: DataConfig, companies: list[Company]) -> list[Company]:
    """The companies meant to have users: all but a seeded `empty_company_share` of them."""
    rng = _rng(config, "empty-companies")
    return [c for c in companies if rng.random() >= config.empty_company_share]


def _cover(config: DataConfig, contacts: list[Contact], companies: list[Company]) -> None:
    """Give each of `companies` still without a user one, so only the chosen share is empty
    (12,000 companies over 10,000 contacts would otherwise leave half of them empty)."""
    rng = _rng(config, "company-coverage")
    users = [c for c in contacts if c.role == "user"]
    if not users:
        return
    covered = {cid for c in contacts for cid in c.company_ids}
    for company in companies:
        if company.id not in covered:
            contact = rng.choice(users)
            contact.company_ids = contact.company_ids + (company.id,)


def generate(config: DataConfig) -> Dataset:
    """The whole data set for `config`; company user_count reflects the contacts."""
    config.validate()
    admins = _admins(config)
    companies = _companies(config)
    with_users = _with_users(config, companies)
    contacts = _contacts(config, admins, with_users)
    _cover(config, contacts, with_users)
    by_id = {c.id: c for c in companies}
    for contact in contacts:
        for cid in contact.company_ids:
            by_id[cid].user_count += 1
    conversations = _conversations(config, admins, contacts)
    return Dataset(admins=admins, companies=companies, contacts=contacts, conversations=conversations)
