"""The sandbox's records: two years of issues with customer and agent messages, accounts,
agents and teams, generated from a seed and dated before the epoch (the time of
generation unless given), so a first import that reaches two years back finds them all.
Agents answer within business hours (Monday to Friday, 09:00-17:00 UTC)."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from devtools.sandboxes.kit.clock import SandboxClock
from devtools.sandboxes.kit.params import int_fields

DAY = 86_400
PRIORITIES = ("urgent", "high", "medium", "low")
OPEN_STATES = ("new", "waiting_on_you", "waiting_on_customer", "on_hold")
BUSINESS = (9, 17)


@dataclass
class Sizes:
    issues: int = 3000
    accounts: int = 200
    agents: int = 12
    teams: int = 3
    days: int = 728
    seed: int = 1
    #: the epoch (unix seconds); None: now
    epoch: int | None = None


@dataclass
class Message:
    id: str
    timestamp: int
    kind: str  # "customer" | "agent" | "note"
    author_id: str
    body: str


@dataclass
class Issue:
    id: str
    number: int
    title: str
    created_at: int
    updated_at: int
    state: str
    priority: str
    account_id: str
    requester_id: str
    assignee_id: str | None
    team_id: str | None
    tags: list[str]
    custom_fields: dict[str, Any]
    resolved_at: int | None
    messages: list[Message] = field(default_factory=list)


def iso(unix: int) -> str:
    return datetime.fromtimestamp(unix, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def next_business(unix: int) -> int:
    """`unix` if inside business hours, else the next opening."""
    t = unix
    while True:  # at most a weekend and a night
        day = datetime.fromtimestamp(t, tz=timezone.utc)
        if day.weekday() < 5 and BUSINESS[0] <= day.hour < BUSINESS[1]:
            return t
        opening = int(day.replace(hour=BUSINESS[0], minute=0, second=0).timestamp())
        t = opening if day.hour < BUSINESS[0] else opening + DAY


class Store:
    #: the per-endpoint limits (routes.Limits), set by create_app
    limits: Any

    def __init__(self, sizes: Sizes | None = None) -> None:
        self.reset(sizes or Sizes())

    def reset(self, sizes: Sizes) -> None:
        self.sizes = sizes
        epoch = sizes.epoch if sizes.epoch is not None else int(time.time())
        self.clock = SandboxClock(epoch)
        rng = random.Random(sizes.seed)
        self.users = [{"id": f"usr_{n:04d}", "name": f"Agent {n}", "email": f"agent{n}@support.example",
                       "status": "active"} for n in range(sizes.agents)]
        self.teams = [{"id": f"team_{n:02d}", "name": f"Tier {n + 1}",
                       "users": [{"id": u["id"]} for u in self.users[n::max(1, sizes.teams)]]} for n in range(sizes.teams)]
        self.accounts = [{"id": f"acc_{n:05d}", "name": f"Customer {n}", "domain": f"customer{n}.example",
                          "domains": [f"customer{n}.example"], "primary_domain": f"customer{n}.example",
                          "type": rng.choice(("customer", "prospect")), "created_at": iso(epoch - sizes.days * DAY - n),
                          "tags": [rng.choice(("enterprise", "startup", "smb"))],
                          "custom_fields": {"plan": {"slug": "plan", "value": rng.choice(("pro", "team", "free"))}}}
                         for n in range(sizes.accounts)]
        self.issues: list[Issue] = []
        start = epoch - sizes.days * DAY
        created = sorted(rng.randrange(start, epoch - 3600) for _ in range(sizes.issues))
        for n, when in enumerate(created):
            self.issues.append(self._issue(rng, n, when, epoch))
        self.by_id = {i.id: i for i in self.issues}

    def _issue(self, rng: random.Random, n: int, when: int, epoch: int) -> Issue:
        account = rng.randrange(len(self.accounts)) if self.accounts else 0
        agent = self.users[rng.randrange(len(self.users))]["id"] if self.users else None
        messages = [Message(f"msg_{n:06d}_0", when, "customer", f"con_{account:05d}", "Hello, we need help")]
        t, k = when, 1
        closed = when < epoch - 14 * DAY or rng.random() < 0.5
        for _ in range(rng.randrange(1, 4)):
            reply = next_business(t + rng.randrange(600, 12 * 3600))
            if reply >= epoch - 60 or (not closed and rng.random() < 0.25):
                break
            messages.append(Message(f"msg_{n:06d}_{k}", reply, "agent", agent or "usr_0000", "Thanks, looking"))
            k += 1
            if rng.random() < 0.2:
                messages.append(Message(f"msg_{n:06d}_{k}", reply + 60, "note", agent or "usr_0000", "internal"))
                k += 1
            t = reply + rng.randrange(600, 2 * DAY)
            if t >= epoch - 60:
                break
            messages.append(Message(f"msg_{n:06d}_{k}", t, "customer", f"con_{account:05d}", "Any news?"))
            k += 1
        last = max(m.timestamp for m in messages)
        resolved = min(last + rng.randrange(600, 3 * DAY), epoch - 30) if closed else None
        return Issue(
            id=f"iss_{n:06d}", number=n + 1, title=f"Issue {n + 1}: {rng.choice(('login', 'billing', 'export', 'api'))}",
            created_at=when, updated_at=max(last, resolved or 0), state="closed" if closed else rng.choice(OPEN_STATES),
            priority=rng.choice(PRIORITIES), account_id=self.accounts[account]["id"] if self.accounts else "",
            requester_id=f"con_{account:05d}", assignee_id=agent if rng.random() < 0.9 else None,
            team_id=self.teams[rng.randrange(len(self.teams))]["id"] if self.teams else None,
            tags=[rng.choice(("bug", "question", "feature"))],
            custom_fields={"severity": {"slug": "severity", "value": rng.choice(("s1", "s2", "s3"))}},
            resolved_at=resolved, messages=messages,
        )

    def touch(self, count: int) -> int:
        """Update the `count` oldest issues: a new customer message, reopened (an old issue
        changing is what GET /issues, filtered on creation, cannot see)."""
        for issue in self.issues[:count]:
            now = self.clock.advance(1)
            issue.messages.append(Message(f"{issue.id}_m{now}", now, "customer", issue.requester_id, "Back again"))
            issue.state, issue.resolved_at, issue.updated_at = "waiting_on_you", None, now
        return min(count, len(self.issues))


def counts(store: Store) -> dict[str, int]:
    return {"issues": len(store.issues), "messages": sum(len(i.messages) for i in store.issues),
            "accounts": len(store.accounts), "users": len(store.users), "teams": len(store.teams)}


def reset(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    values = int_fields(body, ("issues", "accounts", "agents", "teams", "days", "seed", "epoch"))
    store.reset(Sizes(**{**store.sizes.__dict__, **values}))
    return counts(store)
