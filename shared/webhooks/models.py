"""Request and response models of the webhooks and webhook-worker functions."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from shared.sync.models import Counts

CONNECTION_ID = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$"


class Ack(BaseModel):
    """What the vendor gets back, fast: every event is remembered (or knowingly dropped)."""

    status: Literal["accepted", "duplicate", "ignored"] = Field(
        description="accepted: at least one new event; duplicate: all seen before; ignored: nothing to store"
    )
    events: int
    accepted: int
    duplicates: int
    ignored: int


class WebhookTask(BaseModel):
    """A webhook-worker task: only where the delivery is remembered (never its content)."""

    model_config = ConfigDict(extra="forbid")

    connection_id: str = Field(pattern=CONNECTION_ID)
    delivery_id: str = Field(min_length=1, max_length=500)


class ProcessResult(BaseModel):
    status: Literal["processed", "replay", "gone", "failed", "ignored"]
    action: str | None = None
    counts: Counts | None = None


class WebhookSetup(BaseModel):
    """What an admin needs to set a connection's webhook up in the vendor's console."""

    connection_id: str
    vendor: str
    url: str = Field(description="The endpoint URL to give the vendor")
    verifier: str = Field(description="How deliveries are authenticated: hmac, hubspot-v3, basic")
    secret_fields: list[str]
    secret_set: bool = Field(description="Whether every secret field is stored (values are never shown)")
    secret_chosen_by: Literal["vendor", "tributary"] = Field(
        description="vendor: paste the secret the vendor shows (an app's client secret); tributary: we generate it"
    )
    topics: list[str] = Field(description="Topics to subscribe to")
    registration: Literal["manual", "api"] = Field(
        description="manual: configure it in the vendor's console; api: registered when the connection is made"
    )
    registered: bool | None = None
    registration_error: str | None = None
    setup_url: str = ""
    steps: list[str] = Field(default_factory=list)


class SecretUpdate(BaseModel):
    """Set a connection's webhook secret: `secret` for a one-field verifier (Intercom's
    client secret), `values` for several, or `generate` for secrets we choose."""

    model_config = ConfigDict(extra="forbid")

    secret: SecretStr | None = Field(None, min_length=8, max_length=500, json_schema_extra={"writeOnly": True})
    values: dict[str, SecretStr] | None = Field(None, repr=False, json_schema_extra={"writeOnly": True})
    generate: bool = False


class SecretSaved(BaseModel):
    secret_set: bool
    fields: list[str]
    generated: dict[str, str] | None = Field(
        None, description="Generated values, shown this once (give them to the vendor); never again"
    )


class Registered(BaseModel):
    registered: bool
    registration_error: str | None = None
