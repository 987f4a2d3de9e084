"""Alerts, pure: what a subscription is told, once per state change, and how each channel says it.

A subscription belongs to a user and sees only that user's division. Its kinds name the conditions
it wants to hear of; each condition has a key that changes when its state does (a meter offline
*since* a moment, a permit's finding at a severity, a finding's or an event's id), so a condition
that still holds is not told again, and one that clears and comes back is. What several conditions
say at once goes out as one message per subscription (a digest) no more often than its interval:
300 meters going offline together are one message, not 300.

Channels: e-mail (SMTP), the group robots of WeCom (企业微信) and DingTalk (钉钉) in their markdown
formats, and a generic JSON webhook. A delivery that fails is retried with a doubling delay.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

MAX_LISTED = 50  # a digest lists at most this many conditions, then says how many more
FIRST_RETRY = timedelta(minutes=1)
LAST_RETRY = timedelta(hours=1)


class AlertKind(StrEnum):
    METER_OFFLINE = "meter_offline"  # an online-capable meter silent for longer than N hours
    PERMIT_USE = "permit_use"  # a permit used beyond a share of its volume, or projected over it
    CALIBRATION_OVERDUE = "calibration_overdue"
    NEW_FINDING = "new_finding"  # a compliance finding opened in the ledger
    SUBMISSION_RETURNED = "submission_returned"  # the level above returned a submission for review


KIND_LABELS: dict[AlertKind, str] = {
    AlertKind.METER_OFFLINE: "计量设施离线",
    AlertKind.PERMIT_USE: "许可水量",
    AlertKind.CALIBRATION_OVERDUE: "检定超期",
    AlertKind.NEW_FINDING: "新发现问题",
    AlertKind.SUBMISSION_RETURNED: "上报被退回",
}


class Channel(StrEnum):
    EMAIL = "email"
    WECOM = "wecom"  # 企业微信群机器人
    DINGTALK = "dingtalk"  # 钉钉群机器人
    WEBHOOK = "webhook"  # a generic JSON POST


@dataclass(frozen=True, slots=True)
class Condition:
    """Something a subscription may be told of: ``(kind, subject, key)`` names one state of it."""

    kind: AlertKind
    subject: str  # the meter, permit, finding or submission
    key: str  # changes when the state does
    title: str  # one line, in the forms' language
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Message:
    """What one delivery sends: an e-mail's subject and text, or a webhook's JSON body."""

    subject: str
    text: str
    body: dict[str, Any] | None = None  # webhooks


def digest_text(items: Sequence[Condition], now: datetime) -> tuple[str, str]:
    """The subject and the text of a message telling ``items`` (one, or a digest of several)."""
    if len(items) == 1:
        one = items[0]
        subject = f"【取水计量】{KIND_LABELS[one.kind]}：{one.title}"
    else:
        counts = "，".join(
            f"{KIND_LABELS[k]}{sum(1 for i in items if i.kind is k)}项"
            for k in AlertKind
            if any(i.kind is k for i in items)
        )
        subject = f"【取水计量】{len(items)}项提醒：{counts}"
    lines = [
        f"- {KIND_LABELS[i.kind]}：{i.title}" + (f"（{i.detail}）" if i.detail else "")
        for i in items[:MAX_LISTED]
    ]
    if len(items) > MAX_LISTED:
        lines.append(f"- ……另有{len(items) - MAX_LISTED}项")
    lines.append(f"\n{now:%Y-%m-%d %H:%M %Z}")
    return subject, "\n".join(lines)


def compose(channel: Channel, items: Sequence[Condition], now: datetime) -> Message:
    """The message for ``channel``: WeCom and DingTalk robots take markdown, a webhook the items."""
    subject, text = digest_text(items, now)
    if channel is Channel.EMAIL:
        return Message(subject, text)
    if channel is Channel.WECOM:
        return Message(
            subject, text, {"msgtype": "markdown", "markdown": {"content": f"**{subject}**\n{text}"}}
        )
    if channel is Channel.DINGTALK:
        body = {"msgtype": "markdown", "markdown": {"title": subject, "text": f"#### {subject}\n{text}"}}
        return Message(subject, text, body)
    listed = [
        {"kind": str(i.kind), "subject": i.subject, "key": i.key, "title": i.title, "detail": i.detail}
        for i in items
    ]
    return Message(subject, text, {"subject": subject, "sent_at": now.isoformat(), "alerts": listed})


def robot_accepted(channel: Channel, status: int, body: Any) -> str | None:
    """None when the receiver took the message; else why not. The robots answer 200 with an errcode."""
    if not 200 <= status < 300:
        return f"HTTP {status}"
    if channel in (Channel.WECOM, Channel.DINGTALK):
        said = body if isinstance(body, dict) else {}
        if said.get("errcode") != 0:
            return f"errcode {said.get('errcode')}: {said.get('errmsg', 'no errcode in the answer')}"
    return None


def dingtalk_url(url: str, secret: str | None, now: datetime) -> str:
    """A DingTalk robot with 加签 (a signing secret) takes a timestamp and its HMAC-SHA256 signature."""
    if not secret:
        return url
    stamp = str(round(now.timestamp() * 1000))
    digest = hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    return f"{url}{'&' if '?' in url else '?'}timestamp={stamp}&sign={sign}"


def next_attempt(attempts: int, now: datetime) -> datetime:
    """When to try again after ``attempts`` failures: 1 minute, doubling, at most an hour apart."""
    delay: timedelta = min(FIRST_RETRY * (2 ** max(0, attempts - 1)), LAST_RETRY)
    return now + delay


def masked(target: str) -> str:
    """A target as lists show it: a webhook's key or access token (its query) hidden."""
    parts = urllib.parse.urlsplit(target)
    if parts.scheme in ("http", "https") and parts.query:
        return urllib.parse.urlunsplit(parts._replace(query="…"))
    return target
