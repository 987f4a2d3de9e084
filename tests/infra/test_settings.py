from __future__ import annotations

import pytest
from pydantic import ValidationError

from infra.errors import SettingsError
from infra.settings import BrokerAddress, Settings, redact_url


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("INTAKE_DATABASE_URL", "INTAKE_MQTT_URL", "INTAKE_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.database_url == "postgresql://postgres@127.0.0.1:5432/intake"
    assert settings.mqtt_url == "mqtt://127.0.0.1:1883"
    assert settings.timezone == "Asia/Shanghai"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTAKE_DATABASE_URL", "postgresql://u@db:6432/x")
    monkeypatch.setenv("INTAKE_MQTT_URL", "mqtts://collector:s%40cret@broker.example")
    monkeypatch.setenv("INTAKE_TIMEZONE", "Asia/Urumqi")
    settings = Settings()
    assert settings.database_url == "postgresql://u@db:6432/x"
    assert settings.broker == BrokerAddress("broker.example", 8883, True, "collector", "s@cret")
    assert settings.zone.key == "Asia/Urumqi"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("INTAKE_MQTT_URL", "http://broker:1883", "scheme must be mqtt"),
        ("INTAKE_MQTT_URL", "mqtt://broker:99999", "Port out of range"),
        ("INTAKE_MQTT_URL", "mqtt://:1883", "no host"),
        ("INTAKE_DATABASE_URL", "mysql://db/x", "must start with postgresql://"),
        ("INTAKE_TIMEZONE", "China/Beijing", "unknown time zone"),
    ],
)
def test_bad_values_are_named(monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=message) as info:
        Settings()
    assert info.value.errors()[0]["loc"] == (name.removeprefix("INTAKE_").lower(),)


def test_passwords_never_printed() -> None:
    url = "mqtt://collector:hunter2@broker:1883"
    assert redact_url(url) == "mqtt://collector:***@broker:1883"
    assert "hunter2" not in repr(BrokerAddress.from_url(url))
    assert redact_url("postgresql://postgres@127.0.0.1/intake") == "postgresql://postgres@127.0.0.1/intake"


def test_broker_address_checks_itself() -> None:
    with pytest.raises(SettingsError, match="outside 1-65535"):
        BrokerAddress("broker", 0, False)
