"""Sending a message: e-mail over SMTP (plain, STARTTLS or TLS, with or without login) and a JSON POST
to a webhook (the WeCom and DingTalk group robots, or any receiver). Each send is bounded by a timeout
and returns None when the receiver took it, else why not; nothing here logs a password or a robot's key.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Literal

import httpx
from pydantic import Field

from infra.settings import Settings


class NotifySettings(Settings):
    """``INTAKE_ALERT_*``: where alerts are sent from, and how hard to try."""

    alert_smtp_host: str | None = None  # no host: e-mail subscriptions fail with that reason
    alert_smtp_port: int = Field(587, gt=0, lt=65536)
    alert_smtp_tls: Literal["none", "starttls", "tls"] = "starttls"
    alert_smtp_user: str | None = None
    alert_smtp_password: str | None = None
    alert_smtp_from: str = "intake-alerts@localhost"
    alert_smtp_ca_file: str | None = (
        None  # the CA that signs the server's certificate (default: the system's)
    )
    alert_timeout_s: float = Field(10.0, gt=0, le=120)  # one SMTP session or one POST
    alert_max_attempts: int = Field(8, ge=1, le=100)  # then the delivery is failed for good
    alert_interval_s: int = Field(60, ge=1, le=3600)  # between runs of `intake alerts run`


def send_email(settings: NotifySettings, to: str, subject: str, text: str) -> str | None:
    if not settings.alert_smtp_host:
        return "no SMTP server is set (INTAKE_ALERT_SMTP_HOST)"
    message = EmailMessage()
    message["From"] = settings.alert_smtp_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="intake")
    message.set_content(text)
    context = ssl.create_default_context(cafile=settings.alert_smtp_ca_file)
    host, port, timeout = settings.alert_smtp_host, settings.alert_smtp_port, settings.alert_timeout_s
    try:
        if settings.alert_smtp_tls == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        with client:
            if settings.alert_smtp_tls == "starttls":
                client.starttls(context=context)
            if settings.alert_smtp_user:
                client.login(settings.alert_smtp_user, settings.alert_smtp_password or "")
            refused = client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        return f"SMTP {host}:{port}: {type(exc).__name__}: {exc}"
    if refused:
        return f"SMTP {host}:{port} refused {', '.join(refused)}"
    return None


def post_json(url: str, body: dict[str, Any], timeout_s: float) -> tuple[int, Any] | str:
    """The receiver's status and JSON answer (None when it is not JSON), or why nothing came back."""
    try:
        response = httpx.post(url, json=body, timeout=timeout_s, follow_redirects=False)
    except httpx.HTTPError as exc:
        where = httpx.URL(url).copy_with(query=None)  # a robot's key is in the query: not in the reason
        return f"POST {where}: {type(exc).__name__}"
    try:
        answer: Any = response.json()
    except ValueError:
        answer = None
    return response.status_code, answer
