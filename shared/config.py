"""Process configuration, read from environment variables and validated once.

A missing or malformed setting raises ConfigError naming the variable, so a misconfigured
deployment fails at its first request with a message that says what to fix.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_ORIGIN = re.compile(r"https?://[a-z0-9.-]+(?::[0-9]{1,5})?")


class ConfigError(RuntimeError):
    """The environment does not describe a runnable configuration."""


class Settings(BaseSettings):
    """Settings every function shares. Vendor settings live with their connector."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    project_id: str = Field(validation_alias="GOOGLE_CLOUD_PROJECT", min_length=1)
    region: str = Field("europe-west1", validation_alias="FUNCTION_REGION")
    environment: Literal["local", "test", "production"] = Field(
        "production", validation_alias="TRIBUTARY_ENV"
    )
    allowed_domains: Annotated[tuple[str, ...], NoDecode] = Field(
        validation_alias="ALLOWED_DOMAINS", min_length=1
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", validation_alias="LOG_LEVEL"
    )
    max_body_bytes: int = Field(1_048_576, validation_alias="MAX_BODY_BYTES", gt=0)
    # Browser origins (scheme://host[:port]) allowed to call the API; none unless listed.
    cors_allowed_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        (), validation_alias="CORS_ALLOWED_ORIGINS"
    )

    # Public base URL of the functions (https://REGION-PROJECT.cloudfunctions.net in
    # production, the local dev server otherwise): task targets and OIDC audiences derive from it.
    functions_base_url: str = Field(validation_alias="FUNCTIONS_BASE_URL", min_length=1)

    # Certificate sets. Google's by default; the local stack and tests serve their own so
    # that every signature is really checked (there is no verification bypass).
    firebase_certs_url: str | None = Field(None, validation_alias="FIREBASE_CERTS_URL")
    google_oidc_certs_url: str | None = Field(None, validation_alias="GOOGLE_OIDC_CERTS_URL")

    # Service accounts whose OIDC tokens machine callers present.
    scheduler_service_account: str = Field(validation_alias="SCHEDULER_SERVICE_ACCOUNT")
    tasks_service_account: str = Field(validation_alias="TASKS_SERVICE_ACCOUNT")

    # Cloud Tasks: the emulator's host:port locally, unset in production.
    cloud_tasks_emulator_host: str | None = Field(None, validation_alias="CLOUD_TASKS_EMULATOR_HOST")
    tasks_location: str | None = Field(None, validation_alias="TASKS_LOCATION")

    # A chain with no progress for this long has lost its tasks and is resumed.
    sync_stall_after_s: float = Field(600.0, validation_alias="SYNC_STALL_AFTER_S", gt=0)

    # Tests and benchmarks only: vendors' declared per-endpoint budgets are multiplied by this
    # (the sandboxes read the same variable), i.e. the rate-limit clock runs this much faster
    # with the vendor's own rules. Refused in production.
    rate_time_scale: float = Field(1.0, validation_alias="TRIBUTARY_RATE_TIME_SCALE", gt=0)

    # The circuit breaker per connection (shared.connections.breaker): consecutive failed
    # chunks before it opens, the first cool-down and the cap of its doubling.
    breaker_threshold: int = Field(5, validation_alias="BREAKER_THRESHOLD", ge=1)
    breaker_cooldown_s: float = Field(30.0, validation_alias="BREAKER_COOLDOWN_S", gt=0)
    breaker_max_cooldown_s: float = Field(300.0, validation_alias="BREAKER_MAX_COOLDOWN_S", gt=0)

    # Key-encryption keys of stored credentials (shared.crypto): "kid:base64url(32 bytes)",
    # comma-separated, the first wraps new credentials, all unwrap. Production mounts it from
    # the Secret Manager secret token-encryption-key. Optional here so that functions that
    # never touch credentials run without it; those that do answer credentials_keys_missing.
    credentials_keys: SecretStr | None = Field(None, validation_alias="CREDENTIALS_KEYS")

    @field_validator("credentials_keys", mode="before")
    @classmethod
    def _check_keys(cls, value: object) -> object:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw is None:
            return None
        if not isinstance(raw, str):
            raise ValueError("must be a string")
        raw = raw.strip()
        # empty, or Terraform's placeholder version ("unset: add the real value ..."): not set
        if not raw or raw.startswith("unset:"):
            return None
        from shared.crypto import parse_keys

        parse_keys(raw)  # raises ValueError naming the entry, never the key
        return raw


    @model_validator(mode="after")
    def _real_rates_in_production(self) -> Settings:
        if self.environment == "production" and self.rate_time_scale != 1.0:
            raise ValueError("TRIBUTARY_RATE_TIME_SCALE is for tests and benchmarks: production keeps vendors' limits")
        return self

    @field_validator("allowed_domains", mode="before")
    @classmethod
    def _split_domains(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(d.strip().lower().lstrip("@") for d in value.split(",") if d.strip())
        return value

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(o.strip().rstrip("/").lower() for o in value.split(",") if o.strip())
        return value

    @field_validator("cors_allowed_origins")
    @classmethod
    def _exact_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Each origin exactly: '*' would let any web page call the API with a user's token."""
        for origin in value:
            if origin == "*":
                raise ValueError("'*' is not accepted: list each origin (https://dash.example.com)")
            if not _ORIGIN.fullmatch(origin):
                raise ValueError("each origin must be scheme://host[:port], without a path")
        return value

    @field_validator("functions_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @property
    def queue_location(self) -> str:
        return self.tasks_location or self.region

    def function_url(self, function_name: str) -> str:
        """The URL a function is reachable at, which is also its OIDC audience."""
        return f"{self.functions_base_url}/{function_name}"


def describe_validation_error(exc: ValidationError, model: type[BaseSettings]) -> str:
    """Name each failing environment variable, never its value (it may be a secret)."""
    parts = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "?"
        info = model.model_fields.get(field)
        env_name = info.validation_alias if info and isinstance(info.validation_alias, str) else field
        parts.append(f"{env_name}: {err['msg']}")
    return "invalid configuration: " + "; ".join(parts)


def load(model: type[BaseSettings]) -> BaseSettings:
    """Build a settings model from the environment or raise ConfigError naming the variables."""
    try:
        return model()
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, model)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, validated on first use and reused after (cache_clear in tests)."""
    settings = load(Settings)
    assert isinstance(settings, Settings)
    return settings
