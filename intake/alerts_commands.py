"""`intake alerts subscribe|list|remove|run|deliveries`: alerts that reach people (e-mail, WeCom and
DingTalk group robots, webhooks), once per state change, as digests, retried with backoff."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from anomaly.alerts import AlertKind, Channel, compose, dingtalk_url, masked, robot_accepted
from anomaly.queries import alerts as qa
from infra.database import connect
from infra.notify import NotifySettings, post_json, send_email
from infra.systemd import Heartbeat
from intake.args import moment, positive
from intake.output import emit, say
from intake.settings import load_settings


def deliver(settings: NotifySettings, delivery: qa.Due, now: datetime) -> str | None:
    """Send one delivery by its channel; None when the receiver took it, else why not."""
    message = compose(delivery.channel, delivery.items, now)
    if delivery.channel is Channel.EMAIL:
        return send_email(settings, delivery.target, message.subject, message.text)
    url = delivery.target
    if delivery.channel is Channel.DINGTALK:
        url = dingtalk_url(url, delivery.secret, now)
    assert message.body is not None
    answer = post_json(url, message.body, settings.alert_timeout_s)
    if isinstance(answer, str):
        return answer
    return robot_accepted(delivery.channel, *answer)


def _kinds(text: str) -> list[AlertKind]:
    try:
        return [AlertKind(k.strip()) for k in text.split(",") if k.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: kinds are {', '.join(k.value for k in AlertKind)} (comma-separated)"
        ) from None


def _share(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share (0.9 for 90 %)") from None
    if not 0 < value <= 10:
        raise argparse.ArgumentTypeError(f"{text}: a share is above 0 and at most 10")
    return value


def _target_ok(channel: Channel, target: str) -> str | None:
    if channel is Channel.EMAIL:
        return None if "@" in target and " " not in target else f"{target!r} is not an e-mail address"
    return None if target.startswith(("https://", "http://")) else f"{target!r} is not an http(s) URL"


def cmd_subscribe(args: argparse.Namespace) -> int:
    settings = load_settings(NotifySettings)
    channel = Channel(args.channel)
    wrong = _target_ok(channel, args.target)
    if wrong:
        print(f"subscription refused: {wrong}", file=sys.stderr)
        return 2
    with connect(settings.database_url, "intake-alerts", autocommit=True) as conn:
        if (
            conn.execute(
                "SELECT 1 FROM api_users WHERE name = %s AND revoked_at IS NULL", (args.user,)
            ).fetchone()
            is None
        ):
            print(f"subscription refused: no user {args.user!r} (intake users add)", file=sys.stderr)
            return 1
        values = {
            "owner": args.user,
            "channel": str(channel),
            "target": args.target,
            "secret": args.secret,
            "kinds": [str(k) for k in args.kinds],
            "offline_hours": args.offline_hours,
            "permit_share": args.permit_share,
            "digest_minutes": args.digest_minutes,
        }
        row = conn.execute(qa.ADD_SUBSCRIPTION, values).fetchone()
    assert row is not None
    print(f"subscription #{row[0]}: {args.user} by {channel} to {masked(args.target)}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    settings = load_settings(NotifySettings)
    with connect(settings.database_url, "intake-alerts") as conn:
        query = {"owner": args.user, "scope": None, "removed": True, "limit": 100_000, "offset": 0}
        rows = conn.execute(qa.LIST_SUBSCRIPTIONS, query).fetchall()
    columns = ["id", "owner", "channel", "target", "kinds", "offline_hours", "permit_share", "digest_minutes",
               "created_at", "removed_at"]  # fmt: skip
    shown = []
    for r in rows:
        kinds = ",".join(map(str, r[4])) if isinstance(r[4], list) else ""
        shown.append(dict(zip(columns, [*r[:3], masked(str(r[3])), kinds, *r[5:10]], strict=True)))
    emit(shown, args.format, columns)
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    settings = load_settings(NotifySettings)
    with connect(settings.database_url, "intake-alerts", autocommit=True) as conn:
        done = conn.execute(qa.REMOVE_SUBSCRIPTION, {"id": args.id, "owner": None, "scope": None}).rowcount
    if not done:
        print(f"no subscription #{args.id} in force", file=sys.stderr)
        return 1
    print(f"subscription #{args.id} removed")
    return 0


def cmd_deliveries(args: argparse.Namespace) -> int:
    settings = load_settings(NotifySettings)
    with connect(settings.database_url, "intake-alerts") as conn:
        query = {"owner": None, "scope": None, "limit": args.limit, "offset": 0}
        rows = conn.execute(qa.LIST_DELIVERIES, query).fetchall()
    columns = ["id", "owner", "channel", "created_at", "items", "state", "attempts", "sent_at", "last_error"]
    shown = [dict(zip(columns, [r[0], *r[2:9], r[10]], strict=True)) for r in rows]
    emit(shown, args.format, columns)
    return 0


def run_once(settings: NotifySettings, now: datetime) -> dict[str, int] | None:
    with connect(settings.database_url, "intake-alerts", autocommit=True) as conn:
        return qa.run(
            conn, now, settings.zone, lambda d, at: deliver(settings, d, at), settings.alert_max_attempts
        )


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_settings(NotifySettings)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stopping.set())
    heartbeat = Heartbeat()  # systemd: ready, and a WATCHDOG=1 every run (deploy/systemd/)
    heartbeat.ready()
    while True:
        heartbeat.beat()
        started = time.monotonic()
        counts = run_once(settings, args.now or datetime.now(UTC))
        if counts is None:
            say("another alerts run holds the lock; nothing done")
        else:
            print(
                f"alerts: {counts['new']} new, {counts['deliveries']} deliveries made, "
                f"{counts['sent']} sent, {counts['failed']} failed ({time.monotonic() - started:.1f} s)",
                flush=True,
            )
        if args.once or args.now:
            return 0 if counts is None or counts["failed"] == 0 else 3
        if stopping.wait(settings.alert_interval_s):
            return 0


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("alerts", help="alerts by e-mail, WeCom, DingTalk or webhook")
    actions = parser.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)
    sub = actions.add_parser(
        "subscribe",
        help="subscribe a user to alerts inside their division",
        description="A user (intake users add) is told of the kinds chosen, inside their division, once "
        "per state change, as one message per digest interval. Channels: email (the target an address; "
        "INTAKE_ALERT_SMTP_* say how to send), wecom and dingtalk (a group robot's webhook URL; "
        "--secret for a DingTalk robot with 加签), webhook (any URL taking a JSON POST).",
    )
    sub.add_argument("--user", required=True, help="the API user it belongs to (their division decides what)")
    sub.add_argument("--channel", required=True, choices=[c.value for c in Channel])
    sub.add_argument("--target", required=True, help="an e-mail address or a webhook URL")
    sub.add_argument("--secret", help="a DingTalk robot's signing secret (加签)")
    sub.add_argument(
        "--kinds",
        type=_kinds,
        default=list(AlertKind),
        help=f"comma-separated, of {', '.join(k.value for k in AlertKind)} (default: all)",
    )
    sub.add_argument(
        "--offline-hours", type=positive, default=24, help="offline longer than this (default 24)"
    )
    sub.add_argument(
        "--permit-share", type=_share, default=Decimal("0.9"), help="of the permitted volume used (0.9)"
    )
    sub.add_argument(
        "--digest-minutes", type=int, default=10, help="at most one message per this many minutes"
    )
    sub.set_defaults(handler=cmd_subscribe)
    lst = actions.add_parser("list", help="subscriptions (targets' keys hidden)")
    lst.add_argument("--user")
    lst.add_argument("--format", choices=["table", "csv", "json"], default="table")
    lst.set_defaults(handler=cmd_list)
    rem = actions.add_parser("remove", help="end a subscription (its deliveries stay recorded)")
    rem.add_argument("id", type=int)
    rem.set_defaults(handler=cmd_remove)
    run = actions.add_parser(
        "run",
        help="tell subscribers what is new, every INTAKE_ALERT_INTERVAL_S (or --once)",
        description="Each run records the conditions each subscription has not been told of, makes one "
        "delivery per subscription whose digest interval has come, and sends the deliveries that are "
        "due; a failed one is retried 1, 2, 4 ... minutes later (at most an hour apart), failed for good "
        "after INTAKE_ALERT_MAX_ATTEMPTS. Runs as intake_monitor; one run at a time. Exit 3 when --once "
        "and a send failed.",
    )
    run.add_argument("--once", action="store_true", help="one run, then exit")
    run.add_argument("--now", type=moment, help="run once as of this time (with offset), for trials")
    run.set_defaults(handler=cmd_run)
    dels = actions.add_parser(
        "deliveries", help="every delivery: when, how many items, state, attempts, error"
    )
    dels.add_argument("--limit", type=positive, default=50)
    dels.add_argument("--format", choices=["table", "csv", "json"], default="table")
    dels.set_defaults(handler=cmd_deliveries)
