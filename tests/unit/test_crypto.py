"""Envelope encryption: round trip, tamper detection, key ids, rotation, and the setting."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

import pytest

from shared import crypto
from shared.config import ConfigError, Settings, load
from shared.crypto import DecryptionFailed, Envelope, Kek, Keyring, UnknownKeyId

OLD = Kek("k-2025", bytes(range(32)))
NEW = Kek("k-2026", bytes(range(32, 64)))
SECRET = {
    "access_token": "tok-PLAINTEXT-123",
    "refresh_token": "ref-PLAINTEXT-456",
    "expires_at": 1_700_000_000.5,
}


def flip(text: str, index: int = 0) -> str:
    """The base64url text with one bit of its decoded bytes flipped."""
    raw = bytearray(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    raw[index] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


def test_round_trip_and_nothing_readable_in_the_envelope() -> None:
    keyring = Keyring([OLD])
    envelope = crypto.encrypt(keyring, SECRET, aad="intercom-0123456789ab")
    assert envelope.kid == "k-2025"
    stored = json.dumps(envelope.to_dict())
    assert "PLAINTEXT" not in stored and "tok-" not in stored
    assert (
        crypto.decrypt(keyring, Envelope.from_dict(json.loads(stored)), aad="intercom-0123456789ab") == SECRET
    )


def test_every_encryption_uses_a_fresh_data_key_and_nonce() -> None:
    keyring = Keyring([OLD])
    a = crypto.encrypt(keyring, SECRET, aad="c")
    b = crypto.encrypt(keyring, SECRET, aad="c")
    assert a.wrapped_key != b.wrapped_key and a.nonce != b.nonce and a.ciphertext != b.ciphertext


@pytest.mark.parametrize("field", ["ciphertext", "wrapped_key", "nonce"])
@pytest.mark.parametrize("index", [0, -1])
def test_any_flipped_bit_is_detected(field: str, index: int) -> None:
    keyring = Keyring([OLD])
    envelope = crypto.encrypt(keyring, SECRET, aad="c")
    tampered = replace(envelope, **{field: flip(getattr(envelope, field), index)})
    with pytest.raises(DecryptionFailed) as info:
        crypto.decrypt(keyring, tampered, aad="c")
    assert info.value.code == "credentials_undecryptable" and info.value.status == 500


def test_a_blob_copied_to_another_connection_does_not_decrypt() -> None:
    keyring = Keyring([OLD])
    envelope = crypto.encrypt(keyring, SECRET, aad="hubspot-aaaaaaaaaaaa")
    with pytest.raises(DecryptionFailed):
        crypto.decrypt(keyring, envelope, aad="hubspot-bbbbbbbbbbbb")


def test_wrapped_key_moved_between_envelopes_is_detected() -> None:
    keyring = Keyring([OLD])
    first = crypto.encrypt(keyring, SECRET, aad="c")
    second = crypto.encrypt(keyring, {"other": "x"}, aad="c")
    with pytest.raises(DecryptionFailed):
        crypto.decrypt(keyring, replace(first, wrapped_key=second.wrapped_key), aad="c")


def test_unknown_kid_and_relabelled_kid() -> None:
    envelope = crypto.encrypt(Keyring([OLD]), SECRET, aad="c")
    with pytest.raises(UnknownKeyId) as info:
        crypto.decrypt(Keyring([NEW]), envelope, aad="c")
    assert info.value.code == "credentials_key_unknown"
    assert info.value.details == {"kid": "k-2025", "configured": ["k-2026"]}
    # claiming another (configured) kid does not help: the kid is bound into the wrap
    both = Keyring([NEW, OLD])
    with pytest.raises(DecryptionFailed):
        crypto.decrypt(both, replace(envelope, kid="k-2026"), aad="c")


def test_malformed_envelopes_are_typed_errors() -> None:
    with pytest.raises(DecryptionFailed):
        Envelope.from_dict({"kid": "x"})
    with pytest.raises(DecryptionFailed):
        Envelope.from_dict({**crypto.encrypt(Keyring([OLD]), SECRET, aad="c").to_dict(), "v": 99})
    envelope = crypto.encrypt(Keyring([OLD]), SECRET, aad="c")
    with pytest.raises(DecryptionFailed):
        crypto.decrypt(Keyring([OLD]), replace(envelope, ciphertext="!!not base64!!"), aad="c")


def test_rotation_rewraps_the_data_key_only() -> None:
    before = crypto.encrypt(Keyring([OLD]), SECRET, aad="c")
    during = Keyring([NEW, OLD])  # new key first, old still unwraps
    # both generations decrypt while the rotation runs
    assert crypto.decrypt(during, before, aad="c") == SECRET
    after = crypto.rewrap(during, before, aad="c")
    assert after.kid == "k-2026" and after.wrapped_key != before.wrapped_key
    assert (after.nonce, after.ciphertext) == (before.nonce, before.ciphertext)  # payload untouched
    assert crypto.decrypt(Keyring([NEW]), after, aad="c") == SECRET  # the old key can go now
    assert crypto.rewrap(during, after, aad="c") is after  # already current: no-op
    with pytest.raises(DecryptionFailed):
        crypto.rewrap(during, before, aad="other-connection")


def test_parse_keys_accepts_the_documented_format_and_names_problems_without_keys() -> None:
    text = f"{crypto.format_key('new', NEW.key)}, {crypto.format_key('old', OLD.key)}"
    keyring = Keyring.parse(text)
    assert keyring.current_kid == "new" and keyring.kids == ("new", "old")
    short = base64.urlsafe_b64encode(b"x" * 16).decode()
    for bad, message in [
        (f"a:{short}", "32 bytes"),
        ("no-colon", "kid:base64url"),
        (f"a:{crypto.format_key('a', NEW.key).split(':')[1]},a:{short}", "32 bytes"),
        (f"{crypto.format_key('a', NEW.key)},{crypto.format_key('a', OLD.key)}", "appears twice"),
        ("", "at least one"),
    ]:
        with pytest.raises(ValueError, match=message) as info:
            crypto.parse_keys(bad)
        assert crypto.format_key("a", NEW.key).split(":")[1] not in str(info.value)
    assert "k-2026" in repr(Keyring([NEW])) and repr(NEW) == "Kek(kid='k-2026')"


def test_setting_is_validated_once_and_never_echoed(
    settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = base64.urlsafe_b64encode(b"s" * 31).decode()
    monkeypatch.setenv("CREDENTIALS_KEYS", f"k1:{secret}")
    with pytest.raises(ConfigError) as info:
        load(Settings)
    assert "CREDENTIALS_KEYS" in str(info.value) and secret not in str(info.value)
    # Terraform's placeholder secret version means "not set": the functions still start
    monkeypatch.setenv("CREDENTIALS_KEYS", "unset: add the real value with gcloud secrets versions add")
    settings = load(Settings)
    assert isinstance(settings, Settings) and settings.credentials_keys is None
    with pytest.raises(crypto.CredentialsKeysMissing) as missing:
        crypto.keyring_from_settings(settings)
    assert missing.value.code == "credentials_keys_missing"
    monkeypatch.setenv("CREDENTIALS_KEYS", crypto.format_key("k1", NEW.key))
    settings = load(Settings)
    assert isinstance(settings, Settings)
    assert crypto.keyring_from_settings(settings).current_kid == "k1"
    assert NEW.key.hex() not in repr(settings) and crypto.format_key("k1", NEW.key) not in repr(settings)


def test_demo_connectors_are_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.sync import registry

    monkeypatch.setenv("TRIBUTARY_EXTRA_CONNECTORS", "tests.demo_connectors")
    monkeypatch.setenv("TRIBUTARY_ENV", "production")
    registry._found.cache_clear()
    try:
        with pytest.raises(registry.ExtraConnectorsRefused):
            registry.vendors()
    finally:
        registry._found.cache_clear()
