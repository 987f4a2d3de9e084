"""Argument types shared by the `intake` subcommands."""

from __future__ import annotations

import argparse
from datetime import date, datetime

from anomaly.progress import parse_month
from devices.divisions import check_division_code


def day(text: str) -> date:
    """A YYYY-MM-DD argument, with the usual message when it is not one."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def division(text: str) -> str:
    """A six-digit division code (行政区划代码) argument."""
    try:
        return check_division_code(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def month(text: str) -> date:
    """A YYYY-MM argument, as the month's first day."""
    try:
        return parse_month(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive(text: str) -> int:
    """A positive whole number argument."""
    if not text.isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def metres(text: str) -> float:
    """A distance in metres, 0 to 100 km."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a distance in metres") from None
    if not 0 <= value <= 100_000:
        raise argparse.ArgumentTypeError(f"{text!r}: a distance from 0 to 100000 m")
    return value


def moment(text: str) -> datetime:
    """A time with its UTC offset (2026-05-01T08:00+08:00)."""
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time (2026-05-01T08:00+08:00)") from None
    if found.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset: add +08:00 or Z")
    return found
