"""What a connector declares. The sync engine and the deploy manifest read only this.

    Connector(vendor, settings, auth, rate limit, retry policy, schedule, streams)
    Stream(name, full request, incremental request, paginator, page size, primary key,
           cursor field, raw model, mapper)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings

from shared.vendors.auth import AuthStrategy, BearerToken
from shared.vendors.pagination import PageRequest, Paginator, dig
from shared.vendors.ratelimit import RateLimit
from shared.vendors.retry import RetryPolicy

Raw = TypeVar("Raw", bound=BaseModel)


class VendorSettings(BaseSettings):
    """Each connector's settings subclass this with its env prefix (INTERCOM_ ...)."""

    base_url: str
    access_token: SecretStr | None = None
    timeout_s: float = 30.0


class ConnectionConfig(BaseModel):
    """A connection's non-secret settings; connectors subclass it (account id, region...).

    base_url must be one the connector declares (or loopback outside production), so a
    connection can never point the worker, and its credentials, at another host.
    """

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(min_length=8, max_length=300)
    timeout_s: float = Field(30.0, gt=0, le=120)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")) or any(c in value for c in " \n\r\t?#@"):
            raise ValueError("must be an http(s) URL without credentials, query or fragment")
        return value.rstrip("/")


class InvalidConfig(ValueError):
    """A connection's config does not fit its connector (message says which field)."""


@dataclass(frozen=True)
class Schedule:
    cron: str
    time_zone: str = "Etc/UTC"


@dataclass(frozen=True)
class RequestSpec:
    """How to ask for one page. `build(since)` gives the first request; since is a unix
    time (incremental) or None (full import)."""

    build: Callable[[float | None], PageRequest]
    paginator: Paginator
    records_path: str


@dataclass(frozen=True)
class Stream(Generic[Raw]):
    name: str
    full: RequestSpec
    raw_model: type[Raw]
    #: raw record -> the document we store (plain JSON-able dict)
    mapper: Callable[[Raw], dict[str, Any]]
    incremental: RequestSpec | None = None
    page_size: int = 100
    primary_key: str = "id"
    #: field of the raw record that drives incremental sync (unix seconds or ISO 8601)
    cursor_field: str | None = "updated_at"
    #: re-read this much before the high-water mark: clock skew and equal timestamps
    lookback_s: int = 300
    docs_url: str = ""

    def records(self, spec: RequestSpec, response: dict[str, Any]) -> list[dict[str, Any]]:
        found = dig(response, spec.records_path)
        return list(found) if isinstance(found, list) else []

    def record_key(self, raw: dict[str, Any]) -> str | None:
        value = raw.get(self.primary_key)
        return None if value is None or value == "" else str(value)

    def cursor_value(self, raw: dict[str, Any]) -> float | None:
        """The record's cursor as unix seconds (vendors use both epoch numbers and ISO)."""
        if not self.cursor_field:
            return None
        value = dig(raw, self.cursor_field)
        if value is None:
            return None
        if isinstance(value, (int, float)):
            return float(value) / 1000 if value > 10**11 else float(value)
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.timestamp()


@dataclass(frozen=True)
class Connector:
    vendor: str
    title: str
    docs_url: str
    settings_model: type[VendorSettings]
    #: settings -> headers that authenticate every request (never logged)
    auth_headers: Callable[[Any], dict[str, str]]
    rate_limit: RateLimit
    streams: tuple[Stream[Any], ...]
    schedule: Schedule
    default_headers: dict[str, str] = field(default_factory=dict)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    #: Secret Manager ids the connector reads (mounted as env vars of its settings)
    secrets: tuple[str, ...] = ()
    #: per-connection settings (validated when a connection is created or updated)
    config_model: type[ConnectionConfig] = ConnectionConfig
    #: how requests are authenticated, from the connection's credentials
    auth: AuthStrategy = field(default_factory=BearerToken)
    #: "org": one account for the organization (admins manage it); "user": one per person
    ownership: Literal["org", "user"] = "org"
    #: base URLs a production connection may use (loopback is allowed outside production)
    base_urls: tuple[str, ...] = ()

    def validate_config(self, raw: dict[str, Any], *, environment: str) -> ConnectionConfig:
        """The connection's config as the connector's model, or InvalidConfig."""
        try:
            config = self.config_model.model_validate(raw)
        except ValidationError as exc:
            reason = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False))
            raise InvalidConfig(reason) from None
        loopback = config.base_url.startswith(("http://127.0.0.1:", "http://localhost:"))
        if config.base_url not in self.base_urls and not (loopback and environment != "production"):
            raise InvalidConfig(f"base_url: must be one of {list(self.base_urls)}")
        return config

    def stream(self, name: str) -> Stream[Any]:
        for stream in self.streams:
            if stream.name == name:
                return stream
        raise KeyError(f"{self.vendor} has no stream {name!r}")
