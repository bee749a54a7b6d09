from __future__ import annotations

import pytest

from shared.config import ConfigError, Settings, get_settings, load


def test_missing_settings_name_themselves(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GOOGLE_CLOUD_PROJECT", "ALLOWED_DOMAINS", "FUNCTIONS_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError) as info:
        load(Settings)
    message = str(info.value)
    assert "GOOGLE_CLOUD_PROJECT" in message
    assert "ALLOWED_DOMAINS" in message
    assert "FUNCTIONS_BASE_URL" in message


def test_malformed_setting_names_itself_without_its_value(settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_BODY_BYTES", "lots-secret-value")
    with pytest.raises(ConfigError) as info:
        load(Settings)
    assert "MAX_BODY_BYTES" in str(info.value)
    assert "lots-secret-value" not in str(info.value)


def test_domains_are_split_and_normalised(settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_DOMAINS", " Example.com, @corp.example.org ,")
    get_settings.cache_clear()
    assert get_settings().allowed_domains == ("example.com", "corp.example.org")


def test_a_rate_time_scale_is_refused_in_production(settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIBUTARY_RATE_TIME_SCALE", "60")
    assert load(Settings).rate_time_scale == 60  # tests and benchmarks
    monkeypatch.setenv("TRIBUTARY_ENV", "production")
    with pytest.raises(ConfigError) as info:
        load(Settings)
    assert "TRIBUTARY_RATE_TIME_SCALE" in str(info.value)
