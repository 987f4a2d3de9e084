"""Collectors subscribe to every meter, so each test of this package gets a broker of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.sandbox import PrivateMosquitto


@pytest.fixture
def broker() -> Iterator[PrivateMosquitto]:
    instance = PrivateMosquitto().start()
    try:
        yield instance
    finally:
        instance.destroy()
