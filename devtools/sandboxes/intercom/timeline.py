"""Conversation timelines: the parts after the source message, and statistics derived from them.

Intercom's statistics describe the parts (first_contact_reply_at is the first message from the
contact, first_admin_reply_at the first admin reply after it, and so on), so the sandbox builds
a plausible timeline first and derives everything else from it: the customer speaks first,
admins answer after, closes/reopens/snoozes change the state. The base timeline is rebuilt from
the conversation's seed on demand (deterministic, a few microseconds), so 20k conversations
cost no memory for their parts; parts added later by /_sandbox/mutate are kept on the record.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from statistics import median

from devtools.sandboxes.intercom.records import Conversation, Part

DAY = 86_400
MAX_PARTS = 500  # GET /conversations/{id} returns at most the 500 most recent parts
CUSTOMER_LINES = ("Any update on this?", "Thanks, that worked.", "It is still happening for me.",
                  "Here is a screenshot of the error.", "Could you check my account settings?",
                  "We are blocked until this is fixed.", "Great, thank you!")
ADMIN_LINES = ("Thanks for reaching out, looking into it now.", "Could you share the request id?",
               "I have escalated this to our engineers.", "This is fixed on our side, please try again.",
               "Here is the guide that explains the setup.", "Happy to help, anything else?")
NULLABLE_STATS = ("time_to_assignment", "time_to_admin_reply", "time_to_first_close", "time_to_last_close",
                  "median_time_to_reply", "first_contact_reply_at", "first_assignment_at", "first_admin_reply_at",
                  "first_close_at", "last_assignment_at", "last_assignment_admin_reply_at", "last_admin_reply_at",
                  "last_close_at", "last_closed_by_id", "last_contact_reply_at")


def customer_initiated(v: Conversation) -> bool:
    """The source message is the customer's (else an admin or automation wrote first)."""
    return v.delivered_as == "customer_initiated" and v.customer_id is not None


class _Builder:
    """Appends parts in time order, refusing any that would fall past the horizon."""

    def __init__(self, v: Conversation, rng: random.Random) -> None:
        self.v, self.rng = v, rng
        self.t = v.created_at
        self.state = "open"
        self.parts: list[Part] = []
        self.full = False

    def add(self, delay: int, part_type: str, author_type: str, author_id: str, body: str | None,
            state: str | None = None, assigned_to: str | None = None, until: int | None = None) -> bool:
        if self.full or self.t + delay > self.v.horizon:
            self.full = True
            return False
        self.t += delay
        self.state = state or self.state
        self.parts.append(Part(len(self.parts), part_type, self.t, author_type, author_id, body, self.state,
                               assigned_to, until))
        return True

    def customer(self, delay: int) -> bool:
        line = self.rng.choice(CUSTOMER_LINES)
        reopened = "open" if self.state == "closed" else None
        return self.add(delay, "comment", self.v.customer_type, self.v.customer_id or "", f"<p>{line}</p>", reopened)

    def admin(self, delay: int) -> bool:
        line = self.rng.choice(ADMIN_LINES)
        return self.add(delay, "comment", "admin", self.v.responder_id, f"<p>{line}</p>")


def _wait(rng: random.Random, mean_s: float, floor_s: int = 30) -> int:
    return floor_s + int(rng.expovariate(1 / mean_s))


def base_parts(v: Conversation) -> list[Part]:
    """The generated timeline of `v`, identical on every call (seeded by v.seed)."""
    rng = random.Random(v.seed)
    b = _Builder(v, rng)
    spoke = customer_initiated(v)
    if not spoke and v.customer_id is not None and rng.random() < 0.75:
        spoke = b.customer(_wait(rng, 7200, 60))  # the customer answers the outbound message
    if v.admin_assignee_id is not None:
        b.add(rng.randint(5, 300), "assignment", "admin", v.responder_id, None, assigned_to=str(v.admin_assignee_id))
    ending = rng.choices(("open", "closed", "snoozed"), weights=(25, 65, 10))[0]
    if spoke:
        for _ in range(rng.choice((1, 1, 2, 2, 3, 4, 6))):
            if not b.admin(_wait(rng, 3600)):
                break
            if rng.random() < 0.6 and not b.customer(_wait(rng, 5400)):
                break
        if ending == "open" and rng.random() < 0.4:
            b.customer(_wait(rng, 3600))  # the last word is the customer's: waiting for an answer
    if ending == "closed":
        b.add(rng.randint(60, 2 * DAY), "close", "admin", v.responder_id, None, "closed")
        if spoke and rng.random() < 0.15 and b.customer(_wait(rng, DAY)):  # reopened by a reply
            b.admin(_wait(rng, 3600))
            b.add(rng.randint(60, DAY), "close", "admin", v.responder_id, None, "closed")
    elif ending == "snoozed":
        b.add(rng.randint(60, DAY), "snoozed", "admin", v.responder_id, None, "snoozed",
              until=b.t + rng.randint(3600, 7 * DAY))
    return b.parts


def all_parts(v: Conversation) -> list[Part]:
    return base_parts(v) + list(v.extra_parts)


@dataclass(frozen=True)
class Summary:
    """What a timeline implies about its conversation."""

    state: str
    updated_at: int
    waiting_since: int | None
    snoozed_until: int | None
    statistics: dict[str, int | str | None]


def _median_reply(contact_times: list[int], parts: list[Part]) -> int | None:
    """Median delay between a contact's first unanswered message and the admin reply to it."""
    delays: list[int] = []
    pending: int | None = None
    events = sorted([(t, 0) for t in contact_times] + [(p.created_at, 1) for p in parts
                                                       if p.part_type == "comment" and p.author_type == "admin"])
    for t, is_admin in events:
        if not is_admin:
            pending = t if pending is None else pending
        elif pending is not None:
            delays.append(t - pending)
            pending = None
    return int(median(delays)) if delays else None


def summarize(v: Conversation, parts: list[Part]) -> Summary:
    """State, updated_at, waiting_since and Intercom's statistics, all read off the parts."""
    contact_times = ([v.created_at] if customer_initiated(v) else []) + [
        p.created_at for p in parts if p.part_type == "comment" and p.author_type != "admin"]
    first_contact = contact_times[0] if contact_times else None
    after = [p for p in parts if first_contact is not None and p.created_at >= first_contact]
    admin_replies = [p.created_at for p in after if p.part_type == "comment" and p.author_type == "admin"]
    assignments = [p.created_at for p in after if p.part_type == "assignment"]
    closes = [p for p in after if p.part_type == "close"]
    stats: dict[str, int | str | None] = {"type": "conversation_statistics", **dict.fromkeys(NULLABLE_STATS)}
    if first_contact is not None:
        stats.update(first_contact_reply_at=first_contact, last_contact_reply_at=contact_times[-1])
    if admin_replies:
        first_reply = admin_replies[0]
        before_reply = [t for t in assignments if t <= first_reply]
        stats.update(first_admin_reply_at=first_reply, last_admin_reply_at=admin_replies[-1],
                     time_to_admin_reply=first_reply - (first_contact or first_reply),
                     median_time_to_reply=_median_reply(contact_times, parts))
        if before_reply:
            stats["time_to_assignment"] = before_reply[-1] - (first_contact or before_reply[-1])
    if assignments:
        stats.update(first_assignment_at=assignments[0], last_assignment_at=assignments[-1])
        replied = [t for t in admin_replies if t >= assignments[-1]]
        stats["last_assignment_admin_reply_at"] = replied[0] if replied else None
    if closes and first_contact is not None:
        stats.update(first_close_at=closes[0].created_at, last_close_at=closes[-1].created_at,
                     time_to_first_close=closes[0].created_at - first_contact,
                     time_to_last_close=closes[-1].created_at - first_contact, last_closed_by_id=closes[-1].author_id)
    reopens, state = 0, "open"
    for p in parts:
        reopens += state == "closed" and p.state == "open"
        state = p.state
    stats.update(count_reopens=reopens, count_assignments=len(assignments), count_conversation_parts=len(parts))
    last_admin = max((p.created_at for p in parts if p.part_type == "comment" and p.author_type == "admin"),
                     default=None)
    unanswered = [t for t in contact_times if last_admin is None or t > last_admin]
    snoozes = [p.until for p in parts if p.part_type == "snoozed"]
    return Summary(
        state=state,
        updated_at=max([v.created_at] + [p.created_at for p in parts]),
        waiting_since=unanswered[0] if state == "open" and unanswered else None,
        snoozed_until=snoozes[-1] if state == "snoozed" and snoozes else None,
        statistics=stats,
    )


def refresh(v: Conversation) -> list[Part]:
    """Recompute v's state, times and statistics from its timeline; returns the parts."""
    parts = all_parts(v)
    s = summarize(v, parts)
    v.state, v.updated_at, v.waiting_since, v.snoozed_until, v.statistics = (
        s.state, max(v.updated_at, s.updated_at), s.waiting_since, s.snoozed_until, s.statistics)
    wrote = ([v.author_id] if v.author_type == "admin" else []) + [p.author_id for p in parts if p.author_type == "admin"]
    v.teammate_ids = tuple(dict.fromkeys(wrote))
    return parts


def append(v: Conversation, now: int, part_type: str, author_type: str, author_id: str, body: str | None,
           state: str) -> Part:
    """Add a part dated `now` (a mutation) after every existing one."""
    index = len(base_parts(v)) + len(v.extra_parts)
    part = Part(index, part_type, now, author_type, author_id, body, state)
    v.extra_parts.append(part)
    return part
