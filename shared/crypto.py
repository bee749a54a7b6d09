"""Envelope encryption of stored credentials.

Each secret (a dict of credential fields) is encrypted with its own fresh 256-bit data key
(AES-256-GCM over the secret's JSON). The data key is then *wrapped* (AES-256-GCM again)
by a key-encryption key (KEK) named by a key id (kid). What is stored is the envelope:
kid, wrapped data key, nonce and ciphertext; never a key in the clear.

Why envelopes rather than encrypting with the KEK directly:

- rotating the KEK rewraps 32-byte data keys and never touches (or needs to re-validate)
  the payloads, so it is cheap and cannot corrupt a credential;
- a Keyring holds several KEKs: the first wraps, every one unwraps, so old and new keys
  coexist during a rotation and nothing stops working while instances pick up the new one.

Both AES-GCM layers take associated data bound to where the blob lives (the connection id),
so a blob copied from one connection to another fails to decrypt instead of silently
handing one connection's token to another.

KEKs come from the CREDENTIALS_KEYS setting (shared.config, validated at start-up):
comma-separated ``kid:base64url(32 bytes)``, the first being current.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.errors import TributaryError

if TYPE_CHECKING:
    from shared.config import Settings

#: the Secret Manager secret holding CREDENTIALS_KEYS in production (docs/deploy.md)
KEK_SECRET = "token-encryption-key"
#: the environment variable (and Settings alias) the keyring is read from
KEK_ENV = "CREDENTIALS_KEYS"
ENVELOPE_VERSION = 1
ALGORITHM = "A256GCM+A256GCMKW"
KEY_BYTES = 32
NONCE_BYTES = 12
_KID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class CredentialsKeyError(TributaryError):
    """Credentials cannot be read or written with the configured keys."""

    status = 500
    default_code = "credentials_key_error"
    default_message = "Stored credentials cannot be processed with the configured keys."


class CredentialsKeysMissing(CredentialsKeyError):
    default_code = "credentials_keys_missing"
    default_message = f"{KEK_ENV} is not set: this function cannot read or store credentials."


class UnknownKeyId(CredentialsKeyError):
    """The blob was wrapped by a KEK this keyring does not hold (removed too early?)."""

    default_code = "credentials_key_unknown"
    default_message = "The credentials were encrypted with a key that is not configured."


class DecryptionFailed(CredentialsKeyError):
    """Tampered ciphertext or wrapped key, wrong associated data, or a malformed envelope."""

    default_code = "credentials_undecryptable"
    default_message = "The stored credentials could not be decrypted."


@dataclass(frozen=True)
class Kek:
    kid: str
    key: bytes

    def __post_init__(self) -> None:
        if not _KID.match(self.kid):
            raise ValueError("a key id is 1-64 characters of A-Z a-z 0-9 _ . -")
        if len(self.key) != KEY_BYTES:
            raise ValueError(f"key {self.kid!r} must be {KEY_BYTES} bytes")

    def __repr__(self) -> str:  # never print key material
        return f"Kek(kid={self.kid!r})"


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_keys(value: str) -> tuple[Kek, ...]:
    """``kid:base64url(32 bytes)[,kid:...]`` -> KEKs, first is current. Errors never
    contain key material (they end up in logs via ConfigError)."""
    keks: list[Kek] = []
    for position, item in enumerate((p.strip() for p in value.split(",")), start=1):
        if not item:
            continue
        kid, sep, encoded = item.partition(":")
        if not sep or not _KID.match(kid):
            raise ValueError(f"entry {position} must be kid:base64url(32 bytes), kid of A-Z a-z 0-9 _ . -")
        try:
            key = _b64d(encoded.strip())
        except (binascii.Error, ValueError):
            raise ValueError(f"entry {position} ({kid}): the key is not base64url") from None
        if len(key) != KEY_BYTES:
            raise ValueError(f"entry {position} ({kid}): the key must decode to {KEY_BYTES} bytes")
        if any(k.kid == kid for k in keks):
            raise ValueError(f"entry {position}: key id {kid!r} appears twice")
        keks.append(Kek(kid, key))
    if not keks:
        raise ValueError("at least one kid:key is required")
    return tuple(keks)


def format_key(kid: str, key: bytes) -> str:
    """One CREDENTIALS_KEYS entry (for tooling and docs: ``kid:base64url``)."""
    return f"{Kek(kid, key).kid}:{_b64e(key)}"


def generate_key() -> bytes:
    return os.urandom(KEY_BYTES)


@dataclass(frozen=True)
class Envelope:
    """What is stored: never a key or a plaintext. Strings only, so it is plain JSON."""

    kid: str
    wrapped_key: str
    nonce: str
    ciphertext: str
    v: int = ENVELOPE_VERSION
    alg: str = ALGORITHM

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": self.v,
            "alg": self.alg,
            "kid": self.kid,
            "wrapped_key": self.wrapped_key,
            "nonce": self.nonce,
            "ciphertext": self.ciphertext,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Envelope:
        try:
            envelope = cls(
                kid=str(data["kid"]),
                wrapped_key=str(data["wrapped_key"]),
                nonce=str(data["nonce"]),
                ciphertext=str(data["ciphertext"]),
                v=int(data.get("v", ENVELOPE_VERSION)),
                alg=str(data.get("alg", ALGORITHM)),
            )
        except (KeyError, TypeError, ValueError):
            raise DecryptionFailed("The stored credentials are not an envelope.") from None
        if envelope.v != ENVELOPE_VERSION or envelope.alg != ALGORITHM:
            raise DecryptionFailed(f"Unsupported envelope version {envelope.v} / {envelope.alg}.")
        return envelope


def _wrap_aad(kid: str, aad: str) -> bytes:
    return f"tributary-dek/v1|{kid}|{aad}".encode()


def _data_aad(aad: str) -> bytes:
    return f"tributary-credentials/v1|{aad}".encode()


class Keyring:
    """Key-encryption keys by id. The first wraps new data keys; all of them unwrap."""

    def __init__(self, keks: Iterable[Kek]) -> None:
        self._keks = tuple(keks)
        if not self._keks:
            raise ValueError("a keyring needs at least one key")
        if len({k.kid for k in self._keks}) != len(self._keks):
            raise ValueError("key ids must be unique")
        self._by_kid = {k.kid: k for k in self._keks}

    @classmethod
    def parse(cls, value: str) -> Keyring:
        return cls(parse_keys(value))

    @property
    def current_kid(self) -> str:
        return self._keks[0].kid

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(k.kid for k in self._keks)

    def __repr__(self) -> str:
        return f"Keyring(kids={self.kids!r})"

    def wrap(self, data_key: bytes, *, aad: str) -> tuple[str, bytes]:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        kek = self._keks[0]
        nonce = os.urandom(NONCE_BYTES)
        return kek.kid, nonce + AESGCM(kek.key).encrypt(nonce, data_key, _wrap_aad(kek.kid, aad))

    def unwrap(self, kid: str, wrapped: bytes, *, aad: str) -> bytes:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        kek = self._by_kid.get(kid)
        if kek is None:
            raise UnknownKeyId(details={"kid": kid, "configured": list(self.kids)})
        if len(wrapped) != NONCE_BYTES + KEY_BYTES + 16:
            raise DecryptionFailed("The wrapped data key has the wrong length.")
        try:
            return AESGCM(kek.key).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _wrap_aad(kid, aad))
        except InvalidTag:
            raise DecryptionFailed("The wrapped data key failed authentication.") from None


def encrypt(keyring: Keyring, secret: Mapping[str, Any], *, aad: str) -> Envelope:
    """A fresh data key per call; `aad` (the connection id) must be given again to decrypt."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    data_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(NONCE_BYTES)
    plaintext = json.dumps(dict(secret), separators=(",", ":"), sort_keys=True).encode()
    ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, _data_aad(aad))
    kid, wrapped = keyring.wrap(data_key, aad=aad)
    return Envelope(kid=kid, wrapped_key=_b64e(wrapped), nonce=_b64e(nonce), ciphertext=_b64e(ciphertext))


def decrypt(keyring: Keyring, envelope: Envelope, *, aad: str) -> dict[str, Any]:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        wrapped, nonce, ciphertext = (
            _b64d(envelope.wrapped_key),
            _b64d(envelope.nonce),
            _b64d(envelope.ciphertext),
        )
    except (binascii.Error, ValueError):
        raise DecryptionFailed("The envelope is not base64url.") from None
    data_key = keyring.unwrap(envelope.kid, wrapped, aad=aad)
    if len(nonce) != NONCE_BYTES:
        raise DecryptionFailed("The envelope nonce has the wrong length.")
    try:
        plaintext = AESGCM(data_key).decrypt(nonce, ciphertext, _data_aad(aad))
    except InvalidTag:
        raise DecryptionFailed("The ciphertext failed authentication.") from None
    secret = json.loads(plaintext)
    if not isinstance(secret, dict):
        raise DecryptionFailed("The decrypted credentials are not an object.")
    return secret


def rewrap(keyring: Keyring, envelope: Envelope, *, aad: str) -> Envelope:
    """The same ciphertext with its data key wrapped by the current KEK (a no-op when it
    already is). The payload is never decrypted."""
    if envelope.kid == keyring.current_kid:
        return envelope
    try:
        wrapped = _b64d(envelope.wrapped_key)
    except (binascii.Error, ValueError):
        raise DecryptionFailed("The envelope is not base64url.") from None
    data_key = keyring.unwrap(envelope.kid, wrapped, aad=aad)
    kid, new_wrapped = keyring.wrap(data_key, aad=aad)
    return Envelope(
        kid=kid, wrapped_key=_b64e(new_wrapped), nonce=envelope.nonce, ciphertext=envelope.ciphertext
    )


def keyring_from_settings(settings: Settings) -> Keyring:
    """The process's keyring (Settings validated the format at start-up)."""
    if settings.credentials_keys is None:
        raise CredentialsKeysMissing()
    return Keyring.parse(settings.credentials_keys.get_secret_value())
