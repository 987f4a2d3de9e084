"""Alerts reach people: against a real SMTP server (aiosmtpd, started here) and a real HTTP receiver
(the WeCom and DingTalk robots' formats and a plain webhook), an offline meter is told once per
channel, 300 at once are one digest, a failed send is retried later, and a county hears only of its own."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import Message as Email
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiosmtpd.controller import Controller

from anomaly.alerts import AlertKind, Channel, Condition, compose, dingtalk_url, next_attempt, robot_accepted
from api import accounts
from api.auth import Role
from infra.sandbox import free_port
from infra.testbed import register_meters
from tests.anomaly.test_sweep import registry
from tests.api.conftest import api_client, bearer
from tests.intake.test_cli import intake
from tests.roles import MONITOR, as_role

NOW = datetime.now(UTC).replace(microsecond=0)


# --- pure ---------------------------------------------------------------------------------------------
def offline(n: int) -> Condition:
    return Condition(
        AlertKind.METER_OFFLINE, f"M{n}", "2026-12-01T00:00:00+00:00", f"M{n} 离线", "超过24小时"
    )


def test_each_channel_says_it_in_its_own_format() -> None:
    one = [offline(1)]
    mail = compose(Channel.EMAIL, one, NOW)
    assert mail.body is None and "计量设施离线" in mail.subject and "M1 离线" in mail.subject
    wecom = compose(Channel.WECOM, one, NOW).body
    assert wecom is not None and wecom["msgtype"] == "markdown" and "M1 离线" in wecom["markdown"]["content"]
    ding = compose(Channel.DINGTALK, one, NOW).body
    assert ding is not None and ding["msgtype"] == "markdown" and set(ding["markdown"]) == {"title", "text"}
    hook = compose(Channel.WEBHOOK, one, NOW).body
    assert hook is not None and hook["alerts"] == [
        {"kind": "meter_offline", "subject": "M1", "key": "2026-12-01T00:00:00+00:00", "title": "M1 离线",
         "detail": "超过24小时"}
    ]  # fmt: skip


def test_a_digest_lists_fifty_and_counts_the_rest() -> None:
    digest = compose(Channel.EMAIL, [offline(n) for n in range(300)], NOW)
    assert digest.subject == "【取水计量】300项提醒：计量设施离线300项"
    assert digest.text.count("\n- 计量设施离线") + 1 == 50 and "另有250项" in digest.text


def test_a_robot_that_answers_an_errcode_did_not_take_it() -> None:
    assert robot_accepted(Channel.WECOM, 200, {"errcode": 0, "errmsg": "ok"}) is None
    assert robot_accepted(Channel.DINGTALK, 200, {"errcode": 310000, "errmsg": "sign not match"}) == (
        "errcode 310000: sign not match"
    )
    assert robot_accepted(Channel.WEBHOOK, 503, None) == "HTTP 503"
    assert robot_accepted(Channel.WEBHOOK, 204, None) is None


def test_a_signed_dingtalk_url_carries_the_documented_signature() -> None:
    url = dingtalk_url("https://oapi.dingtalk.com/robot/send?access_token=T", "SEC", NOW)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    stamp = query["timestamp"][0]
    # DingTalk: sign = Base64(HmacSHA256(secret, timestamp + "\n" + secret)), then URL-encoded
    expected = base64.b64encode(hmac.new(b"SEC", f"{stamp}\nSEC".encode(), hashlib.sha256).digest()).decode()
    assert query["sign"] == [expected] and query["access_token"] == ["T"]
    assert abs(int(stamp) / 1000 - NOW.timestamp()) < 1


def test_retries_back_off_doubling_to_an_hour() -> None:
    delays = [next_attempt(n, NOW) - NOW for n in range(1, 9)]
    assert [d.total_seconds() / 60 for d in delays] == [1, 2, 4, 8, 16, 32, 60, 60]


# --- real servers -------------------------------------------------------------------------------------
@dataclass
class Mailbox:
    messages: list[Email] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)  # headers decoded
        message["X-Rcpt"] = ",".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"


@dataclass
class Receiver:
    """A local HTTP server keeping every POST; ``fail`` answers the next ones with HTTP 500."""

    posts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail: int = 0
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str) -> list[dict[str, Any]]:
        return [body for p, body in self.posts if urllib.parse.urlsplit(p).path == path]


@pytest.fixture
def servers() -> Iterator[tuple[Mailbox, Controller, Receiver]]:
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            receiver.posts.append((self.path, body))
            if receiver.fail:
                receiver.fail -= 1
                self.send_response(500)
                self.end_headers()
                return
            answer = json.dumps({"errcode": 0, "errmsg": "ok"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_args: Any) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = http.server_address[1]
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield mailbox, smtp, receiver
    finally:
        http.shutdown()
        smtp.stop()


def _offline_fleet(url: str, meters: list[str], division: str) -> None:
    """Meters of ``division`` last heard from 30 hours ago, judged offline by the status sweep."""
    register_meters(url, meters)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE intakes SET division_code = %s WHERE code = ANY(%s)",
            (division, [f"I-{m}" for m in meters]),
        )
        conn.execute(
            "INSERT INTO meter_state (meter_id, last_received_at) SELECT m, %s FROM unnest(%s::text[]) m",
            (NOW - timedelta(hours=30), meters),
        )
    swept = intake("check", INTAKE_DATABASE_URL=as_role(url, MONITOR))
    assert swept.returncode == 0, swept.stderr


def _run(url: str, smtp: Controller, at: datetime = NOW) -> Any:
    return intake(
        "alerts", "run", "--now", at.isoformat(),
        INTAKE_DATABASE_URL=as_role(url, MONITOR), INTAKE_ALERT_SMTP_HOST="127.0.0.1",
        INTAKE_ALERT_SMTP_PORT=str(smtp.port), INTAKE_ALERT_SMTP_TLS="none",
    )  # fmt: skip


def _subscribe(url: str, user: str, channel: str, target: str, *more: str) -> None:
    made = intake(
        "alerts", "subscribe", "--user", user, "--channel", channel, "--target", target,
        "--kinds", "meter_offline", *more, INTAKE_DATABASE_URL=url,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr


def _users(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        accounts.add(conn, "op-jp", Role.OPERATOR, "tests", "211322")  # 建平县
        accounts.add(conn, "op-bp", Role.OPERATOR, "tests", "211381")  # 北票市


def test_an_offline_meter_is_told_once_per_channel(
    database_url: str, servers: tuple[Mailbox, Controller, Receiver]
) -> None:
    mailbox, smtp, receiver = servers
    _offline_fleet(database_url, ["JP-1"], "211322")
    _users(database_url)
    _subscribe(database_url, "op-jp", "email", "jp@example.org")
    _subscribe(database_url, "op-jp", "wecom", receiver.url("/wecom?key=SECRET-KEY"))
    _subscribe(database_url, "op-jp", "dingtalk", receiver.url("/ding?access_token=T"), "--secret", "S")
    _subscribe(database_url, "op-jp", "webhook", receiver.url("/hook"))
    _subscribe(database_url, "op-bp", "email", "bp@example.org")  # another county: hears nothing of JP

    first = _run(database_url, smtp)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "4 new, 4 deliveries made, 4 sent, 0 failed" in first.stdout
    assert [m["X-Rcpt"] for m in mailbox.messages] == ["jp@example.org"]
    assert "JP-1" in mailbox.messages[0]["Subject"] and "计量设施离线" in mailbox.messages[0]["Subject"]
    assert [b["msgtype"] for b in receiver.on("/wecom")] == ["markdown"]
    assert "JP-1" in receiver.on("/wecom")[0]["markdown"]["content"]
    assert len(receiver.on("/ding")) == 1 and "sign=" in receiver.posts[1][0] + receiver.posts[2][0]
    assert [a["subject"] for a in receiver.on("/hook")[0]["alerts"]] == ["JP-1"]

    again = _run(database_url, smtp, NOW + timedelta(hours=1))  # still offline: nothing new to tell
    assert "0 new, 0 deliveries made, 0 sent" in again.stdout
    assert len(mailbox.messages) == 1 and len(receiver.posts) == 3
    listed = intake("alerts", "list", INTAKE_DATABASE_URL=database_url)
    assert "SECRET-KEY" not in listed.stdout and "/wecom?…" in listed.stdout  # a robot's key stays hidden
    assert "SECRET-KEY" not in again.stdout + again.stderr + first.stdout + first.stderr


def test_three_hundred_meters_offline_at_once_are_one_digest_per_channel(
    database_url: str, servers: tuple[Mailbox, Controller, Receiver]
) -> None:
    mailbox, smtp, receiver = servers
    _offline_fleet(database_url, [f"M{n:03d}" for n in range(300)], "211322")
    _users(database_url)
    _subscribe(database_url, "op-jp", "email", "jp@example.org")
    _subscribe(database_url, "op-jp", "webhook", receiver.url("/hook"))
    done = _run(database_url, smtp)
    assert "600 new, 2 deliveries made, 2 sent, 0 failed" in done.stdout, done.stdout + done.stderr
    assert (
        len(mailbox.messages) == 1
        and mailbox.messages[0]["Subject"] == "【取水计量】300项提醒：计量设施离线300项"
    )
    (hook,) = receiver.on("/hook")
    assert sorted(a["subject"] for a in hook["alerts"]) == [f"M{n:03d}" for n in range(300)]
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT items, state, attempts FROM alert_deliveries ORDER BY id").fetchall()
    assert rows == [(300, "sent", 1), (300, "sent", 1)]


def test_a_failed_send_is_recorded_and_retried_later(
    database_url: str, servers: tuple[Mailbox, Controller, Receiver]
) -> None:
    _mailbox, smtp, receiver = servers
    _offline_fleet(database_url, ["JP-1"], "211322")
    _users(database_url)
    _subscribe(database_url, "op-jp", "webhook", receiver.url("/hook"))
    receiver.fail = 1
    first = _run(database_url, smtp)
    assert first.returncode == 3 and "1 failed" in first.stdout
    soon = _run(database_url, smtp, NOW + timedelta(seconds=30))  # before the first retry is due
    assert "0 sent, 0 failed" in soon.stdout and len(receiver.on("/hook")) == 1
    later = _run(database_url, smtp, NOW + timedelta(minutes=2))
    assert later.returncode == 0 and "1 sent" in later.stdout
    assert len(receiver.on("/hook")) == 2  # the same delivery, sent again
    with psycopg.connect(database_url) as conn:
        attempts = conn.execute("SELECT ok, error FROM alert_attempts ORDER BY at").fetchall()
        delivery = conn.execute("SELECT state, attempts, last_error FROM alert_deliveries").fetchall()
    assert attempts == [(False, "HTTP 500"), (True, None)]
    assert delivery == [("sent", 2, None)]
    shown = intake("alerts", "deliveries", "--format", "json", INTAKE_DATABASE_URL=database_url)
    assert json.loads(shown.stdout)[0]["state"] == "sent"


def test_subscriptions_through_the_api_are_the_callers_own_and_hide_keys(
    database_url: str, servers: tuple[Mailbox, Controller, Receiver]
) -> None:
    _mailbox, smtp, receiver = servers
    _offline_fleet(database_url, ["JP-1"], "211322")
    with psycopg.connect(database_url, autocommit=True) as conn:
        jp = bearer(accounts.add(conn, "op-jp", Role.OPERATOR, "tests", "211322"))
        bp = bearer(accounts.add(conn, "au-bp", Role.AUDITOR, "tests", "211381"))
        admin = bearer(accounts.add(conn, "ad-city", Role.ADMIN, "tests", "211300"))
    with api_client(database_url) as client:
        body = {"channel": "wecom", "target": receiver.url("/wecom?key=K-123"), "kinds": ["meter_offline"]}
        made = client.post("/api/v1/alerts/subscriptions", json=body, headers=jp)
        assert made.status_code == 201, made.text
        assert made.json()["target"].endswith("/wecom?…") and made.json()["owner"] == "op-jp"
        bad = client.post("/api/v1/alerts/subscriptions", json={**body, "target": "not a url"}, headers=jp)
        assert bad.status_code == 422
        mine = client.post(
            "/api/v1/alerts/subscriptions",
            json={"channel": "email", "target": "bp@example.org", "kinds": ["meter_offline"]},
            headers=bp,
        ).json()
        assert [
            s["owner"] for s in client.get("/api/v1/alerts/subscriptions", headers=jp).json()["items"]
        ] == ["op-jp"]
        city = client.get("/api/v1/alerts/subscriptions", headers=admin).json()["items"]
        assert sorted(s["owner"] for s in city) == ["au-bp", "op-jp"]  # an admin sees their division's
        assert client.delete(f"/api/v1/alerts/subscriptions/{mine['id']}", headers=jp).status_code == 404
        assert _run(database_url, smtp).returncode == 0
        deliveries = client.get("/api/v1/alerts/deliveries", headers=jp).json()["items"]
        assert [(d["state"], d["items"], d["channel"]) for d in deliveries] == [("sent", 1, "wecom")]
        assert "JP-1" in deliveries[0]["titles"][0]
        assert client.get("/api/v1/alerts/deliveries", headers=bp).json()["total"] == 0  # nothing in 北票
        assert client.delete(f"/api/v1/alerts/subscriptions/{mine['id']}", headers=bp).status_code == 204
        assert "K-123" not in client.get("/api/v1/alerts/subscriptions", headers=admin).text


def test_new_findings_and_a_permit_over_its_volume_are_told_once(
    database_url: str, servers: tuple[Mailbox, Controller, Receiver], tmp_path: Path
) -> None:
    """The sweep's registry (tests/anomaly/test_sweep.py): permit JP of 建平县 is 129.6 % used."""
    _mailbox, smtp, receiver = servers
    registry(database_url, tmp_path)
    _users(database_url)
    _subscribe_kinds = intake(
        "alerts", "subscribe", "--user", "op-jp", "--channel", "webhook", "--target", receiver.url("/hook"),
        "--kinds", "new_finding,permit_use", INTAKE_DATABASE_URL=database_url,
    )  # fmt: skip
    assert _subscribe_kinds.returncode == 0, _subscribe_kinds.stderr
    swept = intake("check", "--as-of", "2026-11-20", INTAKE_DATABASE_URL=as_role(database_url, MONITOR))
    assert swept.returncode == 0, swept.stderr
    done = _run(database_url, smtp)
    assert done.returncode == 0, done.stdout + done.stderr
    (hook,) = receiver.on("/hook")
    told = {(a["kind"], a["key"]) for a in hook["alerts"]}
    assert ("permit_use", "over") in told and ("permit_use", "share:0.9") in told
    with psycopg.connect(database_url) as conn:
        opened = conn.execute(
            "SELECT count(*) FROM findings f LEFT JOIN intakes i ON i.code = f.intake_code "
            "WHERE coalesce(i.division_code, f.division_code) = '211322' "
            "AND f.rule NOT IN ('meter_offline', 'clock_skew', 'meter_alarm')"
        ).fetchone()
    assert opened is not None and sum(1 for a in hook["alerts"] if a["kind"] == "new_finding") == opened[0]
    assert any("超过许可证" in a["detail"] for a in hook["alerts"] if a["kind"] == "new_finding")
    assert "0 new" in _run(database_url, smtp, NOW + timedelta(hours=1)).stdout
