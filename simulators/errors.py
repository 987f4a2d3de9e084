"""What the simulator refuses, with what and why."""

from __future__ import annotations


class SimulateError(Exception):
    """Bad simulator input (a credentials file, a period); the message says what and where."""
