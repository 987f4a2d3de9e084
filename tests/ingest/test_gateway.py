"""The SZY 206 gateway over real sockets, into the real database, through the collector's pipeline."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import psycopg

from devices.szy206 import (
    Address,
    Afn,
    Control,
    FlowUnit,
    Link,
    TimeLabel,
    crc8,
    encode_frame,
    flow_report,
    label_at,
    link_check,
)
from devices.topics import readings_topic
from infra.sandbox import PrivateMosquitto
from infra.testbed import register_meters
from ingest.settings import GatewaySettings
from tests.ingest.harness import (
    count,
    gateway_settings_for,
    register_rtu,
    running_collector,
    running_gateway,
    scalar,
    settings_for,
    wait_until,
)
from tests.ingest.rtu import RtuLink
from tests.mqtt import publish_all

ZONE = ZoneInfo("Asia/Shanghai")
A = Address("211321", 12)  # two meters: G1 (channel 1) and G2 (channel 2)
B = Address("211321", 13)  # one meter, G3, on another intake


def setup(url: str) -> None:
    register_meters(url, ["G1", "G2", "G3"], interval_s=900)
    register_rtu(url, {"G1": (str(A), 1), "G2": (str(A), 2), "G3": (str(B), 1)})


def rows(url: str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def login(port: int, address: Address) -> RtuLink:
    link = RtuLink(port)
    link.send(link_check(address, Link.LOGIN))
    reply = link.answer()
    assert reply is not None and reply.afn == Afn.LINK_CHECK and reply.body[:1] == b"\xf0"
    return link


def test_reports_are_stored_with_the_right_meter_and_confirmed_after_the_commit(database_url: str) -> None:
    setup(database_url)
    now = datetime.now(ZONE).replace(microsecond=0)
    first = now - timedelta(minutes=30)
    second = now - timedelta(minutes=15)
    with running_gateway(gateway_settings_for(database_url)) as gateway:
        link = login(gateway.port, A)
        # SZY 206-2016's short time label, m³/h, a negative flow on channel 2, a flow-meter fault
        report = flow_report(A, [(36.5, 1200), (-2.25, 80)], label_at(first), ["flow_meter_fault"])
        link.send(report)
        confirmation = link.answer()
        assert confirmation is not None and confirmation.afn == Afn.SELF_REPORT
        assert not confirmation.control.uplink and confirmation.address == A
        # confirmed only once committed: the readings are there the moment it arrives
        assert count(database_url, "readings") == 2
        # SL/T 427-2021's full time label, m³/s, flow not measured on channel 2
        link.send(
            flow_report(
                A, [(0.5 * 3600, 1205), (None, 81)], label_at(second, full=True), unit=FlowUnit.M3_PER_S
            )
        )
        assert link.answer() is not None
        link.send(report)  # the first report again, as after a lost confirmation
        assert link.answer() is not None
        wait_until(lambda: gateway.metrics.duplicates._value.get() == 2, what="the resend as duplicates")
        link.close()
        wait_until(
            lambda: (
                scalar(database_url, "SELECT count(*) FROM meter_status_events WHERE status = 'offline'") == 2
            ),
            what="both meters offline once the link closed",
        )
    stored = rows(
        database_url, "SELECT meter_id, ts, total_m3, flow_m3h, alarms FROM readings ORDER BY ts, meter_id"
    )
    assert stored == [
        ("G1", first, Decimal(1200), 36.5, ["flow_meter_fault"]),
        ("G2", first, Decimal(80), -2.25, ["flow_meter_fault"]),
        ("G1", second, Decimal(1205), 1800.0, []),
        ("G2", second, Decimal(81), None, []),
    ]
    events = rows(database_url, "SELECT meter_id, status FROM meter_status_events ORDER BY id")
    assert sorted(events[:2]) == [("G1", "online"), ("G2", "online")]
    assert sorted(events[2:]) == [("G1", "offline"), ("G2", "offline")]
    assert count(database_url, "rejected_messages") == 0


def test_daily_volumes_come_out_as_for_mqtt_readings(database_url: str, broker: PrivateMosquitto) -> None:
    """The same totalizer over a day, once as SZY 206 frames (G3) and once as MQTT JSON (M1)."""
    setup(database_url)
    register_meters(database_url, ["M1"], interval_s=900)
    start = datetime(2026, 5, 1, 22, tzinfo=ZONE)
    times = [start + timedelta(minutes=15 * i) for i in range(16)]  # 22:00 to 01:45, across midnight
    totals = [1000 + 7 * i + i * i for i in range(16)]
    with (
        running_gateway(gateway_settings_for(database_url)) as gateway,
        running_collector(settings_for(database_url, broker.url)),
    ):
        link = login(gateway.port, B)
        for ts, total in zip(times, totals, strict=True):
            link.send(flow_report(B, [(10.0, total)], label_at(ts, full=True)))
            assert link.answer() is not None
        payloads = [
            orjson.dumps({"ts": t.isoformat(), "total_m3": v}) for t, v in zip(times, totals, strict=True)
        ]
        publish_all(broker.url, readings_topic("M1"), payloads)
        wait_until(lambda: count(database_url, "readings") == 32, what="both meters' readings")
        link.close()
    days = (
        "SELECT day, volume_m3, readings, coverage, method, flags FROM daily_volumes WHERE meter_id = %s "
        "ORDER BY day"
    )
    assert rows(database_url, days, "G3") == rows(database_url, days, "M1")
    assert len(rows(database_url, days, "G3")) == 2


def bad_frames() -> list[tuple[str, bytes]]:
    """One of each bad frame an RTU (or something posing as one) can send, with the reason it earns."""
    at = TimeLabel(0, 0, 8, 1, 0)

    def by_hand(afn: int, body: bytes, control: int = 0xB3, address: bytes = A.encode()) -> bytes:
        user = bytes([control]) + address + bytes([afn]) + body
        return bytes([0x68, len(user), 0x68]) + user + bytes([crc8(user), 0x16])

    good = flow_report(A, [(1.0, 10), (1.0, 10)], at)
    broken = bytearray(good)
    broken[-2] ^= 0x5A
    return [
        ("garbage", b"AT+CIPSEND\r\n\x00\x01\x02"),
        ("bad_crc", bytes(broken)),
        ("bad_end_byte", good[:-1] + b"\x00"),
        ("bad_bcd", by_hand(0xC0, bytes.fromhex("4A23010000") + bytes(5) + bytes(4))),
        ("bad_unit", by_hand(0xC0, bytes.fromhex("0000000030") + bytes(5) + bytes(4))),
        ("bad_time_label", by_hand(0xC0, bytes(10) + bytes(4) + bytes.fromhex("0000990100"))),
        ("bad_length", by_hand(0xC0, bytes(12))),
        ("unknown_afn", by_hand(0xEE, bytes(3))),
        ("not_decoded", by_hand(0x81, bytes(4))),
        ("unsupported_type", by_hand(0xC0, bytes(14), control=0xB2)),  # water level data
        ("downlink_frame", encode_frame(Control(False, False, 3, 0), A, 0xC0, bytes(2))),
        ("split_frame", by_hand(0xC0, bytes(14), control=0xF3, address=b"\x01" + A.encode())),
        ("frame_too_long", bytes([0x68, 200, 0x68])),
        ("not_measured", flow_report(A, [(1.0, None), (1.0, 11)], at)),
        (
            "ts_in_future",
            flow_report(
                A, [(1.0, 12), (1.0, 12)], label_at(datetime.now(ZONE) + timedelta(days=2), full=True)
            ),
        ),
        ("rtu_mismatch", flow_report(B, [(1.0, 13)], at)),
    ]


def test_bad_frames_are_kept_with_their_reason_and_nobody_else_is_affected(database_url: str) -> None:
    setup(database_url)
    start = datetime.now(ZONE).replace(second=0, microsecond=0) - timedelta(hours=12)
    settings = gateway_settings_for(database_url, gateway_max_frame_bytes=120)
    with running_gateway(settings) as gateway:
        good = login(gateway.port, B)
        bad = login(gateway.port, A)
        sent = bad_frames()
        for n, (_reason, raw) in enumerate(sent):
            bad.send(raw)
            # meanwhile another RTU reports as usual, and is confirmed every time
            good.send(flow_report(B, [(5.0, 100 + n)], label_at(start + timedelta(minutes=15 * n))))
            assert good.answer() is not None, f"RTU B not confirmed after {sent[n][0]}"
        # the bad connection still works: a good report after all that is stored and confirmed
        bad.send(flow_report(A, [(1.0, 500), (1.0, 600)], label_at(start)))
        unknown = RtuLink(gateway.port)  # an address nobody registered
        unknown.send(flow_report(Address("211321", 999), [(1.0, 5)], label_at(start)))
        assert unknown.answer() is not None  # kept for a replay once registered: confirmed
        half = RtuLink(gateway.port)
        half.send(flow_report(A, [(1.0, 7), (1.0, 7)], label_at(start))[:15])
        half.close()
        wanted = {reason for reason, _raw in sent} | {"unknown_rtu", "truncated_frame"}
        wait_until(
            lambda: (
                {r for (r,) in rows(database_url, "SELECT DISTINCT reason FROM rejected_messages")} >= wanted
                and count(database_url, "readings WHERE meter_id = 'G1'") == 1
            ),
            what="every bad frame kept, and the good one after them stored",
        )
        bad.close()
        good.close()
    kept = rows(database_url, "SELECT reason, source, payload FROM rejected_messages")
    assert {reason for reason, _s, _p in kept} == wanted
    assert {source for _r, source, _p in kept} == {"szy206"}
    raw_of = dict(sent)
    for reason, _source, payload in kept:
        if reason in raw_of and reason not in ("not_measured", "garbage"):
            assert payload == raw_of[str(reason)], reason  # the raw bytes, as received
    assert count(database_url, "readings WHERE meter_id = 'G3'") == len(sent)
    assert rows(database_url, "SELECT meter_id, total_m3 FROM readings WHERE ts = %s ORDER BY 1", start) == [
        ("G1", Decimal(500)),
        ("G2", Decimal(600)),
        ("G3", Decimal(100)),
    ]
    assert len(wanted) >= 12


def test_an_idle_rtu_goes_offline_and_connections_are_bounded(database_url: str) -> None:
    setup(database_url)
    settings = gateway_settings_for(database_url, gateway_idle_timeout_s=1.0, gateway_max_connections=2)
    with running_gateway(settings) as gateway:
        idle = login(gateway.port, B)
        other = RtuLink(gateway.port)
        third = RtuLink(gateway.port)
        assert third.closed(5), "a connection beyond the limit is closed at once"
        assert idle.closed(10), "an idle RTU is closed after the timeout"
        wait_until(
            lambda: (
                rows(database_url, "SELECT status FROM meter_status_events WHERE meter_id = 'G3' ORDER BY id")
                == [("online",), ("offline",)]
            ),
            what="G3 online, then offline",
        )
        assert scalar(database_url, "SELECT last_status FROM meter_state WHERE meter_id = 'G3'") == "offline"
        other.close()
    assert (gateway.metrics.registry.get_sample_value("intake_gateway_idle_closed_total") or 0) >= 1


def test_a_logout_takes_the_rtu_offline_and_a_later_link_brings_it_back(database_url: str) -> None:
    setup(database_url)
    with running_gateway(gateway_settings_for(database_url)) as gateway:
        link = login(gateway.port, B)
        link.send(link_check(B, Link.LOGOUT))
        assert link.answer() is not None
        wait_until(
            lambda: (
                rows(database_url, "SELECT status FROM meter_status_events ORDER BY id")
                == [("online",), ("offline",)]
            ),
            what="offline on logout",
        )
        again = login(gateway.port, B)
        again.send(link_check(B, Link.KEEP_ALIVE))
        assert again.answer() is not None
        wait_until(lambda: count(database_url, "meter_status_events") == 3, what="online again")
        link.close()  # the old link going away does not take the RTU offline: the new one is up
        again.send(link_check(B, Link.KEEP_ALIVE))
        assert again.answer() is not None
        again.close()
        wait_until(
            lambda: count(database_url, "meter_status_events") == 4, what="offline when the last link ends"
        )
    statuses = [s for (s,) in rows(database_url, "SELECT status FROM meter_status_events ORDER BY id")]
    assert statuses == ["online", "offline", "online", "offline"]


def test_sigterm_confirms_what_is_held_before_closing(database_url: str) -> None:
    setup(database_url)
    at = datetime.now(ZONE).replace(microsecond=0) - timedelta(hours=1)
    # a long batch age and no group commit: the report is held when the stop comes
    settings = gateway_settings_for(database_url, collector_batch_age_ms=3000, gateway_commit_when_idle=False)
    with running_gateway(settings) as gateway:
        link = login(gateway.port, B)
        link.send(flow_report(B, [(1.0, 42)], label_at(at)))
        # the link's online status, the login and the report
        wait_until(lambda: gateway.metrics.messages._value.get() >= 3, what="the report received")
        gateway.stop()
        reply = link.answer(20)
        assert reply is not None and reply.afn == Afn.SELF_REPORT, "confirmed while stopping"
        assert count(database_url, "readings") == 1
        assert link.closed(20)


def test_only_the_allowed_networks_may_connect(database_url: str) -> None:
    """SZY 206 has no uplink password: the networks RTUs connect from are the gateway's gate."""
    setup(database_url)
    at = datetime.now(ZONE).replace(microsecond=0) - timedelta(hours=1)
    report = flow_report(B, [(1.0, 42)], label_at(at))
    outside = gateway_settings_for(database_url, gateway_allowed_networks="10.64.0.0/10")
    with running_gateway(outside) as gateway:
        link = RtuLink(gateway.port)
        link.send(report)
        assert link.closed(5), "a connection from outside the allowed networks is closed at once"
        refused = gateway.metrics.registry.get_sample_value(
            "intake_gateway_refused_connections_total", {"why": "network"}
        )
        assert refused == 1
    assert count(database_url, "readings") == 0
    assert count(database_url, "meter_status_events") == 0
    inside = gateway_settings_for(database_url, gateway_allowed_networks="10.64.0.0/10, 127.0.0.0/8")
    with running_gateway(inside) as gateway:
        link = login(gateway.port, B)
        link.send(report)
        assert link.answer() is not None
        link.close()
    assert count(database_url, "readings") == 1


def test_a_network_that_is_not_one_is_refused_at_start() -> None:
    try:
        GatewaySettings.model_validate({"gateway_allowed_networks": "10.64.0.0/10,the carrier"})
    except ValueError as exc:
        assert "'the carrier' is not a network" in str(exc)
    else:
        raise AssertionError("an unreadable network was accepted")


def test_a_report_is_confirmed_without_waiting_for_the_batch_age(database_url: str) -> None:
    """Group commit: an RTU waits for each confirmation, so a lone frame is committed at once."""
    setup(database_url)
    at = datetime.now(ZONE).replace(microsecond=0) - timedelta(hours=1)
    with running_gateway(gateway_settings_for(database_url, collector_batch_age_ms=600_000)) as gateway:
        link = login(gateway.port, B)
        link.send(flow_report(B, [(1.0, 42)], label_at(at)))
        assert link.answer(30) is not None, "confirmed long before the ten-minute batch age"
        assert count(database_url, "readings") == 1
        link.close()
