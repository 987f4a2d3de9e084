"""Settings for a subcommand: built when it runs, with every bad variable named."""

from __future__ import annotations

import getpass
import os
from typing import TypeVar

from pydantic import ValidationError

from infra.errors import InfraError
from infra.settings import Settings

S = TypeVar("S", bound=Settings)


def load_settings(kind: type[S]) -> S:
    """Settings of one process kind, or an :class:`InfraError` naming each bad variable."""
    try:
        return kind()
    except ValidationError as exc:
        problems = "; ".join(
            f"INTAKE_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise InfraError(f"bad setting: {problems}") from None


def cli_actor() -> str:
    """Who a command's changes are recorded as in the registry's audit trail: ``cli:<login>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container with an unnamed uid)
        return f"cli:uid{os.getuid()}"
