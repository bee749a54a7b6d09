"""Sandbox settings, from code, CLI flags or INTERCOM_SANDBOX_* environment variables.

One frozen dataclass for the data set and one for the whole sandbox, so that every knob
lives in a single place. Rate limits and faults are the kit's (kit/ratelimit.py,
kit/faults.py); Intercom's budget is 1000/min in 10-second windows, the kit's default.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from devtools.sandboxes.kit.cli import DEFAULT_TOKEN, Env
from devtools.sandboxes.kit.faults import FaultConfig
from devtools.sandboxes.kit.ratelimit import RateLimitConfig

__all__ = ["DataConfig", "FaultConfig", "RateLimitConfig", "SandboxConfig", "config_from_env"]

ENV_PREFIX = "INTERCOM_SANDBOX_"
# 2026-01-01T00:00:00Z: generated timestamps sit before it, mutations after it.
DEFAULT_EPOCH = 1_767_225_600


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
class SandboxConfig:
    """Everything create_app() needs."""

    data: DataConfig = field(default_factory=DataConfig)
    rate_limit: RateLimitConfig = field(default_factory=RateLimitConfig)
    faults: FaultConfig = field(default_factory=FaultConfig)
    token: str = DEFAULT_TOKEN
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


def config_from_env() -> SandboxConfig:
    """Defaults overridden by INTERCOM_SANDBOX_CONTACTS, _COMPANIES, _RATE_LIMIT, ... ."""
    env = Env(ENV_PREFIX)
    d = DataConfig()
    data = DataConfig(
        contacts=env.get("CONTACTS", d.contacts, int),
        companies=env.get("COMPANIES", d.companies, int),
        admins=env.get("ADMINS", d.admins, int),
        conversations=env.get("CONVERSATIONS", d.conversations, int),
        seed=env.get("SEED", d.seed, int),
        epoch=env.get("EPOCH", d.epoch, int),
        empty_company_share=env.get("EMPTY_COMPANY_SHARE", d.empty_company_share, float),
    )
    server = env.server_settings()
    base = SandboxConfig()
    return SandboxConfig(
        data=data,
        rate_limit=server.rate_limit,
        faults=server.faults,
        token=server.token,
        fault_seed=server.fault_seed,
        lenient_search=env.flag("LENIENT_SEARCH", base.lenient_search),
        mutation_step_seconds=env.get("MUTATION_STEP_SECONDS", base.mutation_step_seconds, int),
        scroll_idle_seconds=env.get("SCROLL_IDLE_SECONDS", base.scroll_idle_seconds, float),
        company_list_cap=env.get("COMPANY_LIST_CAP", base.company_list_cap, int),
    )
