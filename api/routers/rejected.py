"""Rejected messages for operators: what the collector and the gateway refused, by meter and reason,
with the raw input; and a replay, after the registry is fixed, through the collector's own decode
and store (ingest/replay.py, as `intake rejected replay`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api import queries
from api.deps import Auditor, Config, Db, Operator
from api.limits import limited
from api.paging import Page, Paging, page_of
from api.params import Filter, IsoDateTime
from api.problems import responses
from api.schemas import RejectedOut, RejectedSummaryOut, ReplayIn, ReplayOut
from api.strict import strict_request
from devices.readings import Reason
from ingest.message import Limits, Source
from ingest.replay import replay

router = APIRouter(
    tags=["rejected messages"],
    responses=responses(400, 401, 403, 413, 422),
    dependencies=[Depends(strict_request)],
)
# One replay from the API handles at most this many rejected rows (the rest: replay again), so that
# a request stays well inside the database timeout.
REPLAY_ROWS = 2000
From = Annotated[IsoDateTime | None, Query(alias="from", description="received at or after")]
To = Annotated[IsoDateTime | None, Query(alias="to", description="received before")]


def _filters(
    caller: Auditor,
    page: Paging,
    reason: Reason | None = None,
    source: Source | None = None,
    meter_id: Filter = None,
    start: From = None,
    end: To = None,
) -> dict[str, Any]:
    """The rejected rows a caller asks for (the list and the summary alike), inside their division."""
    params = caller.scoped(reason=reason, source=source, meter=meter_id, **page.model_dump())
    return params | {"from": start, "to": end}


Filters = Annotated[dict[str, Any], Depends(_filters)]


@router.get("/rejected", response_model=Page[RejectedOut])
def rejected(db: Db, page: Paging, filters: Filters) -> Page[RejectedOut]:
    """Messages (or elements of arrays, or frames) the collector or the gateway refused, newest first,
    with the raw input and, once a replay stored it, when and what."""
    found, total = queries.paged(db, queries.REJECTED, filters)
    return page_of([RejectedOut(**r) for r in found], total, page)


@router.get("/rejected/summary", response_model=Page[RejectedSummaryOut])
def rejected_summary(db: Db, page: Paging, filters: Filters) -> Page[RejectedSummaryOut]:
    """The rejected rows per meter and reason: how many, how many wait for a replay, first and last."""
    found, total = queries.paged(db, queries.REJECTED_SUMMARY, filters)
    return page_of([RejectedSummaryOut(**r) for r in found], total, page)


@router.post("/rejected/replay", response_model=ReplayOut, dependencies=[Depends(limited("import"))])
def replay_rejected(caller: Operator, db: Db, config: Config, body: ReplayIn) -> ReplayOut:
    """Feed the kept rejected messages that match (within the caller's division: those naming one of
    its meters) through the collector's decode and store again, as `intake rejected replay` does:
    what is now accepted is stored once and its rows marked replayed; what is refused again stays.
    At most 2,000 rows at a time (``more`` says when to call again)."""
    limits = Limits(timedelta(minutes=5), zone=config.zone)
    done = replay(
        db,
        config.zone,
        limits,
        body.reason,
        body.meter_id,
        body.since,
        scope=caller.division,
        limit=REPLAY_ROWS,
    )
    return ReplayOut(
        messages=done.messages,
        rows_resolved=done.rows_resolved,
        rows_still_refused=done.rows_still_refused,
        stored=done.stored,
        duplicates=done.duplicates,
        conflicts=done.conflicts,
        new_refusals=done.new_refusals,
        still_refused=dict(done.still),
        more=done.more,
    )
