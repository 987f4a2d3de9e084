"""Alerts in the database: subscriptions, the conditions each may be told of (inside its owner's
division), the items and deliveries, and every attempt (anomaly/alerts.py says the rules)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from anomaly.alerts import AlertKind, Channel, Condition, next_attempt
from anomaly.findings import PROBLEM_LABELS, ProblemType
from anomaly.ledger import STATUS_RULES

Conn = psycopg.Connection[Any]
ALERTS_LOCK = 0x616C7274  # "alrt": one alerts run at a time

SUBSCRIPTIONS = """
SELECT s.id, s.owner, u.division_code, s.channel, s.target, s.secret, s.kinds, s.offline_hours, s.permit_share,
       s.digest_minutes, s.created_at
FROM alert_subscriptions s JOIN api_users u ON u.name = s.owner
WHERE s.removed_at IS NULL AND u.revoked_at IS NULL ORDER BY s.id"""
OFFLINE = """
SELECT m.meter_id, s.status_since, i.name
FROM meters m JOIN intakes i ON i.code = m.intake_code JOIN meter_state s ON s.meter_id = m.meter_id
WHERE s.status = 'offline' AND m.online_capable AND meter_in_service(m.removed_on, %(today)s)
  AND s.status_since <= %(now)s - make_interval(hours => %(hours)s) AND in_scope(i.division_code, %(scope)s)
ORDER BY s.status_since, m.meter_id"""
# The year's volume of each permit (the yearly rollup: what reports count), against its permitted
# volume; and whether the sweep projects it over (an open projected_over_permit at alert severity).
PERMITS = """
WITH used AS (
    SELECT i.permit_no, sum(y.volume_m3) AS used_m3, bool_or(in_scope(i.division_code, %(scope)s)) AS inside
    FROM intakes i JOIN meters m ON m.intake_code = i.code
    LEFT JOIN yearly_volumes y ON y.meter_id = m.meter_id AND y.year = %(year)s
    WHERE i.permit_no IS NOT NULL GROUP BY 1
)
SELECT p.permit_no, p.annual_volume_m3, coalesce(u.used_m3, 0),
       EXISTS (SELECT 1 FROM findings f WHERE f.permit_no = p.permit_no AND f.rule = 'projected_over_permit'
               AND f.severity = 'alert' AND f.state <> 'closed')
FROM permits p JOIN used u ON u.permit_no = p.permit_no
WHERE u.inside AND p.annual_volume_m3 > 0 ORDER BY 1"""
CALIBRATIONS = """
SELECT f.id, f.meter_id, f.description, coalesce(i.name, f.intake_code)
FROM findings f LEFT JOIN intakes i ON i.code = f.intake_code
WHERE f.rule = 'calibration_overdue' AND f.state <> 'closed'
  AND in_scope(coalesce(i.division_code, f.division_code), %(scope)s) ORDER BY f.id"""
# Every open compliance finding a subscription has not been told of: a new subscription hears of
# those open now in one digest, then of each one opened later.
NEW_FINDINGS = """
SELECT f.id, f.problem, f.description, coalesce(i.name, f.evidence ->> 'name', f.subject)
FROM findings f LEFT JOIN intakes i ON i.code = f.intake_code
WHERE f.state <> 'closed' AND f.rule <> ALL(%(status_rules)s)
  AND in_scope(coalesce(i.division_code, f.division_code), %(scope)s) ORDER BY f.id"""
RETURNED = """
SELECT e.id, s.id, s.year, s.kind, division_label(s.division_code), e.actor, e.note
FROM submission_events e JOIN submissions s ON s.id = e.submission_id
WHERE e.action = 'returned' AND e.at >= %(since)s AND in_scope(s.division_code, %(scope)s) ORDER BY e.id"""
ADD_ITEM = """
INSERT INTO alert_items (subscription_id, kind, subject, key, title, detail, found_at)
VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"""
# A subscription with waiting items and no delivery within its digest interval gets one now.
READY = """
SELECT s.id FROM alert_subscriptions s
WHERE EXISTS (SELECT 1 FROM alert_items a WHERE a.subscription_id = s.id AND a.delivery_id IS NULL)
  AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.subscription_id = s.id
                  AND d.created_at > %(now)s - make_interval(mins => s.digest_minutes))
ORDER BY s.id"""
NEW_DELIVERY = """
INSERT INTO alert_deliveries (subscription_id, created_at, items, next_attempt_at)
VALUES (%s, %s, (SELECT count(*) FROM alert_items WHERE subscription_id = %s AND delivery_id IS NULL), %s)
RETURNING id"""
ATTACH = "UPDATE alert_items SET delivery_id = %s WHERE subscription_id = %s AND delivery_id IS NULL"
DUE = """
SELECT d.id, d.attempts, s.channel, s.target, s.secret FROM alert_deliveries d
JOIN alert_subscriptions s ON s.id = d.subscription_id
WHERE d.state = 'pending' AND d.next_attempt_at <= %s ORDER BY d.id"""
ITEMS_OF = "SELECT kind, subject, key, title, detail FROM alert_items WHERE delivery_id = %s ORDER BY id"
ATTEMPT = "INSERT INTO alert_attempts (delivery_id, at, ok, error) VALUES (%s, %s, %s, %s)"
SENT = "UPDATE alert_deliveries SET state = 'sent', attempts = attempts + 1, sent_at = %s, last_error = NULL WHERE id = %s"
FAILED = """
UPDATE alert_deliveries SET attempts = attempts + 1, last_error = %s, next_attempt_at = %s,
       state = CASE WHEN attempts + 1 >= %s THEN 'failed' ELSE 'pending' END
WHERE id = %s"""


# Subscriptions and deliveries as people list them: their owner's (``owner``), or those of every user
# inside a division (``scope``; an admin's view); a target's key is hidden by the caller (alerts.masked).
ADD_SUBSCRIPTION = """
INSERT INTO alert_subscriptions (owner, channel, target, secret, kinds, offline_hours, permit_share,
                                 digest_minutes)
VALUES (%(owner)s, %(channel)s, %(target)s, %(secret)s, %(kinds)s, %(offline_hours)s, %(permit_share)s,
        %(digest_minutes)s)
RETURNING id"""
LIST_SUBSCRIPTIONS = """
SELECT s.id, s.owner, s.channel, s.target, s.kinds, s.offline_hours, s.permit_share, s.digest_minutes,
       s.created_at, s.removed_at, count(*) OVER () AS total
FROM alert_subscriptions s JOIN api_users u ON u.name = s.owner
WHERE (%(owner)s::text IS NULL OR s.owner = %(owner)s) AND in_scope(u.division_code, %(scope)s)
  AND (%(removed)s OR s.removed_at IS NULL)
ORDER BY s.id LIMIT %(limit)s OFFSET %(offset)s"""
REMOVE_SUBSCRIPTION = """
UPDATE alert_subscriptions s SET removed_at = now()
FROM api_users u
WHERE s.id = %(id)s AND s.removed_at IS NULL AND u.name = s.owner
  AND (%(owner)s::text IS NULL OR s.owner = %(owner)s) AND in_scope(u.division_code, %(scope)s)"""
LIST_DELIVERIES = """
SELECT d.id, d.subscription_id, s.owner, s.channel, d.created_at, d.items, d.state, d.attempts, d.sent_at,
       d.next_attempt_at, d.last_error,
       (SELECT array_agg(a.title ORDER BY a.id) FROM (SELECT id, title FROM alert_items
         WHERE delivery_id = d.id ORDER BY id LIMIT 20) a) AS titles,
       count(*) OVER () AS total
FROM alert_deliveries d JOIN alert_subscriptions s ON s.id = d.subscription_id
JOIN api_users u ON u.name = s.owner
WHERE (%(owner)s::text IS NULL OR s.owner = %(owner)s) AND in_scope(u.division_code, %(scope)s)
ORDER BY d.id DESC LIMIT %(limit)s OFFSET %(offset)s"""


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    owner: str
    scope: str | None  # the owner's division (None: all)
    channel: Channel
    target: str
    secret: str | None
    kinds: tuple[AlertKind, ...]
    offline_hours: int
    permit_share: Decimal
    digest_minutes: int
    created_at: datetime


def subscriptions(conn: Conn) -> list[Subscription]:
    return [
        Subscription(i, o, d, Channel(c), t, sec, tuple(AlertKind(k) for k in kinds), h, share, m, at)
        for i, o, d, c, t, sec, kinds, h, share, m, at in conn.execute(SUBSCRIPTIONS).fetchall()
    ]


def conditions(conn: Conn, sub: Subscription, now: datetime, zone: ZoneInfo) -> list[Condition]:
    """What holds now, of the kinds ``sub`` wants, inside its owner's division."""
    found: list[Condition] = []
    scope = {"scope": sub.scope, "since": sub.created_at}
    local = now.astimezone(zone)
    if AlertKind.METER_OFFLINE in sub.kinds:
        query = {**scope, "now": now, "hours": sub.offline_hours, "today": local.date()}
        for meter, since, intake in conn.execute(OFFLINE, query):
            found.append(
                Condition(
                    AlertKind.METER_OFFLINE,
                    meter,
                    since.isoformat(),
                    f"{meter}（{intake}）自{since.astimezone(zone):%Y-%m-%d %H:%M}起离线",
                    f"超过{sub.offline_hours}小时",
                )
            )
    if AlertKind.PERMIT_USE in sub.kinds:
        for permit, permitted, used, projected in conn.execute(PERMITS, {**scope, "year": local.year}):
            found += _permit_use(permit, Decimal(permitted), Decimal(used), projected, sub.permit_share)
    if AlertKind.CALIBRATION_OVERDUE in sub.kinds:
        for finding, meter, description, intake in conn.execute(CALIBRATIONS, scope):
            found.append(
                Condition(AlertKind.CALIBRATION_OVERDUE, str(meter), str(finding), f"{intake}：{description}")
            )
    if AlertKind.NEW_FINDING in sub.kinds:
        rows = conn.execute(NEW_FINDINGS, {**scope, "status_rules": sorted(STATUS_RULES)})
        for finding, problem, description, what in rows:
            label = PROBLEM_LABELS[ProblemType(problem)]
            found.append(
                Condition(
                    AlertKind.NEW_FINDING, f"finding:{finding}", "opened", f"{what}：{label}", description
                )
            )
    if AlertKind.SUBMISSION_RETURNED in sub.kinds:
        for event, submission, year, kind, division, actor, note in conn.execute(RETURNED, scope):
            what = "月度进展" if kind == "progress" else f"{year}年度成果"
            found.append(
                Condition(
                    AlertKind.SUBMISSION_RETURNED,
                    f"submission:{submission}",
                    str(event),
                    f"{division}{what}（第{submission}号）被{actor}退回",
                    note or "",
                )
            )
    return found


def _permit_use(
    permit: str, permitted: Decimal, used: Decimal, projected: bool, share: Decimal
) -> list[Condition]:
    """A permit's states worth telling: used beyond the share, projected over, over."""
    used_share = used / permitted
    percent = f"{used_share * 100:.1f}%"
    out = []
    if used_share >= share:
        title = f"取水许可证{permit}已用{percent}（提醒线{share * 100:.0f}%）"
        out.append(Condition(AlertKind.PERMIT_USE, permit, f"share:{share}", title))
    if projected:
        out.append(
            Condition(AlertKind.PERMIT_USE, permit, "projected", f"取水许可证{permit}预计全年超许可水量")
        )
    if used > permitted:
        out.append(
            Condition(AlertKind.PERMIT_USE, permit, "over", f"取水许可证{permit}已超许可水量（{percent}）")
        )
    return out


def record(conn: Conn, sub: Subscription, found: Sequence[Condition], now: datetime) -> int:
    """Keep what is new for ``sub``; how many (a condition already told of is not told again)."""
    added = 0
    with conn.cursor() as cur:
        for c in found:
            cur.execute(ADD_ITEM, (sub.id, str(c.kind), c.subject, c.key, c.title, c.detail, now))
            added += cur.rowcount
    return added


def batch(conn: Conn, now: datetime) -> list[int]:
    """A delivery for each subscription whose waiting items' digest interval has come."""
    made = []
    for (sub_id,) in conn.execute(READY, {"now": now}).fetchall():
        row = conn.execute(NEW_DELIVERY, (sub_id, now, sub_id, now)).fetchone()
        assert row is not None
        conn.execute(ATTACH, (row[0], sub_id))
        made.append(int(row[0]))
    return made


@dataclass(frozen=True, slots=True)
class Due:
    id: int
    attempts: int
    channel: Channel
    target: str
    secret: str | None
    items: list[Condition]


def due(conn: Conn, now: datetime) -> list[Due]:
    out = []
    for delivery, attempts, channel, target, secret in conn.execute(DUE, (now,)).fetchall():
        items = [
            Condition(AlertKind(k), s, key, title, detail)
            for k, s, key, title, detail in conn.execute(ITEMS_OF, (delivery,)).fetchall()
        ]
        out.append(Due(delivery, attempts, Channel(channel), target, secret, items))
    return out


def outcome(conn: Conn, delivery: Due, error: str | None, now: datetime, max_attempts: int) -> None:
    """Record an attempt: sent, or failed and due again later (failed for good after ``max_attempts``)."""
    with conn.transaction():
        conn.execute(ATTEMPT, (delivery.id, now, error is None, error))
        if error is None:
            conn.execute(SENT, (now, delivery.id))
        else:
            conn.execute(FAILED, (error, next_attempt(delivery.attempts + 1, now), max_attempts, delivery.id))


def run(
    conn: Conn,
    now: datetime,
    zone: ZoneInfo,
    send: Callable[[Due, datetime], str | None],
    max_attempts: int,
) -> dict[str, int] | None:
    """One alerts run: record what is new, make the deliveries that are due, send them. None when
    another run holds the lock. ``send`` returns None when the receiver took the message, else why not."""
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (ALERTS_LOCK,)).fetchone()
    if not (row and row[0]):
        return None
    try:
        counts = {"new": 0, "deliveries": 0, "sent": 0, "failed": 0}
        with conn.transaction():
            for sub in subscriptions(conn):
                counts["new"] += record(conn, sub, conditions(conn, sub, now, zone), now)
            counts["deliveries"] = len(batch(conn, now))
        for delivery in due(conn, now):
            error = send(delivery, now)
            outcome(conn, delivery, error, now, max_attempts)
            counts["sent" if error is None else "failed"] += 1
        return counts
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (ALERTS_LOCK,))
