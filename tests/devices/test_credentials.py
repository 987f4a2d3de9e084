from __future__ import annotations

import pytest

from devices import credentials
from devices.errors import InvalidValue


def test_hash_is_mosquittos_pbkdf2_format_and_verifies() -> None:
    hashed = credentials.hash_password("s3cret")
    kind, iterations, salt, digest = hashed.split("$")[1:]
    assert (kind, iterations) == ("7", "101")
    assert len(salt) == 16 and len(digest) == 88  # base64 of 12 and 64 bytes
    assert credentials.verify_password("s3cret", hashed)
    assert not credentials.verify_password("S3cret", hashed)
    assert credentials.hash_password("s3cret") != hashed  # a fresh salt every time


def test_passwords_are_long_and_unique() -> None:
    passwords = {credentials.new_password() for _ in range(1000)}
    assert len(passwords) == 1000 and min(len(p) for p in passwords) >= 24


def test_files() -> None:
    assert credentials.password_file([("M2", "$7$h2"), ("M1", "$7$h1")]) == "M1:$7$h1\nM2:$7$h2\n"
    acl = credentials.acl_file(["intake-collector"]).splitlines()
    assert "pattern write meters/%u/readings" in acl
    assert acl.index("user intake-collector") < acl.index("topic read meters/+/readings")
    with pytest.raises(InvalidValue):
        credentials.password_file([("bad:name", "$7$h")])
