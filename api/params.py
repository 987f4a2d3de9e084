"""Query parameter types that accept only what the schema says: ``YYYY-MM-DD`` dates and RFC 3339
date-times with an offset. (Pydantic alone would also take ``0`` or ``0.5`` as epoch seconds, and a
time without an offset, which would then depend on the server's zone.)"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated

from fastapi import Query
from pydantic import BeforeValidator, WithJsonSchema

from api.errors import Unprocessable

EARLIEST = date(2000, 1, 1)  # no day the service answers for is older; the reports look 4 years back
LATEST = date(2100, 12, 31)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})")


def _iso_date(value: object) -> object:
    if isinstance(value, str) and not _DATE.fullmatch(value):
        raise ValueError("use a date as YYYY-MM-DD")
    return value


def _iso_datetime(value: object) -> object:
    if isinstance(value, str) and not _DATETIME.fullmatch(value):
        raise ValueError("use an RFC 3339 time with its offset, e.g. 2026-11-30T08:00:00+08:00")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_datetime)]

# In a JSON body: written as text, never as a number of epoch seconds.
_LOCAL = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([Zz]|[+-]\d{2}:\d{2})?$"


def _text_datetime(value: object) -> object:
    if not isinstance(value, str) or not _DATETIME.fullmatch(value):
        raise ValueError("use an RFC 3339 time with its offset, e.g. 2026-11-30T08:00:00+08:00")
    return value


def _local_datetime(value: object) -> object:
    if not isinstance(value, str) or not re.fullmatch(_LOCAL, value):
        raise ValueError("use a time as 2026-11-30T08:00 (local time) or with its offset (+08:00)")
    return value


BodyDateTime = Annotated[datetime, BeforeValidator(_text_datetime)]
# A time a person read off a display: local time (INTAKE_TIMEZONE) unless it has an offset.
LocalDateTime = Annotated[
    datetime,
    BeforeValidator(_local_datetime),
    WithJsonSchema({"type": "string", "pattern": _LOCAL, "examples": ["2026-11-30T08:00"]}),
]


def year_begun(year: int, today: date) -> int:
    """``year`` if it has begun by ``today``; else a 422 naming the field."""
    if year > today.year:
        raise Unprocessable(
            f"year {year} has not begun", errors=[{"field": "year", "message": "in the future"}]
        )
    return year


# A free-text filter: the schema says what the database can compare (no NUL, a sane length).
Filter = Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$")]
