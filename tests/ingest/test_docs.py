"""docs/SZY206.md stays true to the code: every gateway setting, refusal reason and alarm bit is there."""

from __future__ import annotations

from pathlib import Path

from devices.readings import Reason
from devices.szy206 import ALARM_BITS
from ingest.settings import CollectorSettings, GatewaySettings

DOC = (Path(__file__).resolve().parents[2] / "docs" / "SZY206.md").read_text()
# The reasons only MQTT's JSON can give (devices/codec.py, devices/topics.py): docs/PROTOCOL.md has them.
MQTT_ONLY = {
    Reason.BAD_TOPIC, Reason.EMPTY_PAYLOAD, Reason.BAD_JSON, Reason.NOT_OBJECT, Reason.EMPTY_BATCH,
    Reason.BATCH_TOO_LARGE, Reason.ELEMENT_NOT_OBJECT, Reason.METER_MISMATCH, Reason.MISSING_TS,
    Reason.TS_WRONG_TYPE, Reason.TS_UNPARSABLE, Reason.TS_NO_OFFSET, Reason.MISSING_TOTAL,
    Reason.TOTAL_NOT_NUMBER, Reason.TOTAL_NEGATIVE, Reason.FLOW_INVALID, Reason.BATTERY_INVALID,
    Reason.RSSI_INVALID, Reason.ALARMS_INVALID, Reason.STATUS_INVALID, Reason.TS_TOO_EARLY, Reason.DB_REFUSED,
}  # fmt: skip


def test_every_gateway_setting_is_documented() -> None:
    own = set(GatewaySettings.model_fields) - set(CollectorSettings.model_fields)
    assert own, "the gateway has settings of its own"
    for name in own:
        assert f"`INTAKE_{name.upper()}`" in DOC, name


def test_every_frame_refusal_is_documented() -> None:
    for reason in set(Reason) - MQTT_ONLY:
        assert f"| `{reason}`" in DOC or f"`{reason}` /" in DOC or f"/ `{reason}`" in DOC, reason


def test_every_alarm_bit_is_named_in_the_docs() -> None:
    for bit, name in ALARM_BITS.items():
        assert f"{bit} `{name}`" in DOC, name
