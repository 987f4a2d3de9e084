"""Argument types shared by the `intake` subcommands."""

from __future__ import annotations

import argparse
from datetime import date


def day(text: str) -> date:
    """A YYYY-MM-DD argument, with the usual message when it is not one."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None
