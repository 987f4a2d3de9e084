"""Bearer tokens and roles. Pure: issuing a token, hashing it, and what each role may do.

Tokens are 256 random bits with a recognisable prefix; only their SHA-256 is stored, so a leaked
database does not leak working tokens. Roles are ordered: each may do what the one before may.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from enum import StrEnum

TOKEN_PREFIX = "itk_"  # noqa: S105 - a prefix, not a secret
_TOKEN = re.compile(r"^itk_[A-Za-z0-9_-]{43}$")


class Role(StrEnum):
    AUDITOR = "auditor"  # reads and exports
    OPERATOR = "operator"  # also manages meters, calibrations and findings
    ADMIN = "admin"  # also imports the registry and manages users

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def may(self, needed: Role) -> bool:
        return self.rank >= needed.rank


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def looks_like_token(text: str) -> bool:
    return bool(_TOKEN.match(text))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
