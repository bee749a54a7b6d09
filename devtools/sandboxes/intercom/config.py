"""Sandbox settings, from code, CLI flags or INTERCOM_SANDBOX_* environment variables.

One frozen dataclass for the data set and server, one mutable one for faults (those change
at runtime through /_sandbox/faults), so that every knob lives in a single place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any

ENV_PREFIX = "INTERCOM_SANDBOX_"
# 2026-01-01T00:00:00Z: generated timestamps sit before it, mutations after it.
DEFAULT_EPOCH = 1_767_225_600


@dataclass
class FaultConfig:
    """Injected misbehaviour; shares are probabilities in [0, 1]."""

    error_rate: float = 0.0
    latency_ms: int = 0
    drop_rate: float = 0.0
    error_status: int = 500

    def update(self, changes: dict[str, Any]) -> FaultConfig:
        """A copy with the known keys of `changes` applied, validated."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        new = replace(self, **changes)
        for name in ("error_rate", "drop_rate"):
            value = getattr(new, name)
            if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} must be a number between 0 and 1")
        if new.error_rate + new.drop_rate > 1.0:
            raise ValueError("error_rate + drop_rate must not exceed 1")
        if not isinstance(new.latency_ms, int) or new.latency_ms < 0:
            raise ValueError("latency_ms must be a non-negative integer")
        if new.error_status not in (500, 502, 503, 504):
            raise ValueError("error_status must be one of 500, 502, 503, 504")
        return new


@dataclass(frozen=True)
class DataConfig:
    """Sizes and seed of the generated data set."""

    contacts: int = 10_000
    companies: int = 2_000
    admins: int = 50
    conversations: int = 20_000
    seed: int = 1
    epoch: int = DEFAULT_EPOCH
    history_days: int = 180
    # Share of companies no contact belongs to. Intercom leaves them out of GET /companies
    # and /companies/list (only the scroll returns them), so a sync that lists loses them.
    empty_company_share: float = 0.08

    def validate(self) -> None:
        if min(self.contacts, self.companies, self.conversations) < 0 or self.admins < 1:
            raise ValueError("sizes must be non-negative and there must be at least one admin")
        if not 0.0 <= self.empty_company_share <= 1.0:
            raise ValueError("empty_company_share must be between 0 and 1")


@dataclass(frozen=True)
class RateLimitConfig:
    """Intercom's per-minute budget, enforced in windows of `window_seconds` (Intercom: 10 s)."""

    per_minute: int = 1_000
    window_seconds: int = 10

    @property
    def per_window(self) -> int:
        """1000/min -> 167 per 10 s, as Intercom rounds it."""
        return max(1, -(-self.per_minute * self.window_seconds // 60))


@dataclass(frozen=True)
class SandboxConfig:
    """Everything create_app() needs."""

    data: DataConfig = field(default_factory=DataConfig)
    rate_limit: RateLimitConfig = field(default_factory=RateLimitConfig)
    faults: FaultConfig = field(default_factory=FaultConfig)
    token: str = "sandbox-token"
    fault_seed: int = 7
    # Intercom's documented search rules are the default: contact dates compare by UTC day
    # and refuse !=, >=, <=, IN and NIN; conversation `>`/`<` include the boundary. Lenient
    # mode (exact-second comparisons, every operator on every field) exists only as an
    # explicit opt-out for code that is not ready yet; nothing should rely on it.
    lenient_search: bool = False
    # How far the sandbox clock jumps per mutation batch. Real changes land within the same
    # day, which is what makes day-granular contact searches tricky.
    mutation_step_seconds: int = 60
    # A company scroll expires after this long unused (Intercom: one minute).
    scroll_idle_seconds: float = 60.0
    # GET /companies and POST /companies/list stop at this many companies (Intercom: 10,000).
    company_list_cap: int = 10_000


def _env(name: str, default: Any, cast: type) -> Any:
    raw = os.environ.get(ENV_PREFIX + name)
    if raw is None or raw == "":
        return default
    if cast is bool:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    return cast(raw)


def config_from_env() -> SandboxConfig:
    """Defaults overridden by INTERCOM_SANDBOX_CONTACTS, _COMPANIES, _RATE_LIMIT, ... ."""
    d = DataConfig()
    data = DataConfig(
        contacts=_env("CONTACTS", d.contacts, int),
        companies=_env("COMPANIES", d.companies, int),
        admins=_env("ADMINS", d.admins, int),
        conversations=_env("CONVERSATIONS", d.conversations, int),
        seed=_env("SEED", d.seed, int),
        epoch=_env("EPOCH", d.epoch, int),
        empty_company_share=_env("EMPTY_COMPANY_SHARE", d.empty_company_share, float),
    )
    f = FaultConfig()
    faults = FaultConfig(
        error_rate=_env("ERROR_RATE", f.error_rate, float),
        latency_ms=_env("LATENCY_MS", f.latency_ms, int),
        drop_rate=_env("DROP_RATE", f.drop_rate, float),
    )
    return SandboxConfig(
        data=data,
        rate_limit=RateLimitConfig(
            per_minute=_env("RATE_LIMIT", RateLimitConfig.per_minute, int),
            window_seconds=_env("RATE_WINDOW_SECONDS", RateLimitConfig.window_seconds, int),
        ),
        faults=FaultConfig().update(vars(faults)),
        token=_env("TOKEN", "sandbox-token", str),
        fault_seed=_env("FAULT_SEED", 7, int),
        lenient_search=_env("LENIENT_SEARCH", False, bool),
        mutation_step_seconds=_env("MUTATION_STEP_SECONDS", 60, int),
        scroll_idle_seconds=_env("SCROLL_IDLE_SECONDS", 60.0, float),
        company_list_cap=_env("COMPANY_LIST_CAP", 10_000, int),
    )
