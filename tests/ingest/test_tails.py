"""The in-order fast path: extending a tail gives exactly what a recomputation gives."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from infra.calendar import local_day
from ingest.tails import Tail, extend, take_tail
from ingest.volumes import DailyVolume, Point, daily_volumes, tally_days, touched_days
from tests.ingest.test_volumes import CAPACITY, SHANGHAI, every_day, histories

GAP = timedelta(hours=3)


def slow(stored: dict[datetime, Point], new: list[datetime]) -> tuple[list[DailyVolume], Tail | None]:
    """What the store does without a tail: recompute the touched days, take a tail if it can."""
    ordered = [stored[t] for t in sorted(stored)]
    days = touched_days([p.ts for p in ordered], new, SHANGHAI)
    tallies, inside = tally_days(ordered, days, SHANGHAI, CAPACITY, GAP)
    volumes = daily_volumes(ordered, days, SHANGHAI, CAPACITY, GAP)
    last_day = local_day(ordered[-1].ts, SHANGHAI)
    tail = (
        take_tail(len(stored), ordered[-1], tallies[last_day], inside[last_day])
        if last_day in tallies
        else None
    )
    return volumes, tail


@settings(max_examples=200, deadline=None)
@given(histories(), st.randoms(use_true_random=False), st.integers(1, 12), st.booleans())
def test_tail_extension_equals_recomputation(
    points: list[Point], rnd: random.Random, batches: int, shuffle: bool
) -> None:
    """Readings arrive in batches, in order or shuffled and duplicated; each batch extends the tail
    when it can and recomputes otherwise. Every day equals the from-scratch value, and on in-order
    data without drops every batch after the first takes the fast path."""
    arrivals = list(points)
    if shuffle:
        arrivals += rnd.sample(points, k=len(points) // 4)
        rnd.shuffle(arrivals)
    cuts = sorted(rnd.sample(range(1, len(arrivals)), k=min(batches - 1, len(arrivals) - 1)))
    stored: dict[datetime, Point] = {}
    rollup: dict[date, DailyVolume] = {}
    tail: Tail | None = None
    extended = 0
    for batch in (arrivals[i:j] for i, j in zip([0, *cuts], [*cuts, len(arrivals)], strict=True)):
        fresh = sorted({p.ts: p for p in batch if p.ts not in stored}.values(), key=lambda p: p.ts)
        if not fresh:
            continue
        plan = extend(tail, fresh, len(fresh), SHANGHAI, CAPACITY, GAP) if tail else None
        for p in fresh:
            stored[p.ts] = p
        if plan is None:
            volumes, tail = slow(stored, [p.ts for p in fresh])
        else:
            volumes, tail = plan
            extended += 1
            assert tail.stored == len(stored)
        rollup.update((v.day, v) for v in volumes)
    scratch = {v.day: v for v in daily_volumes(points, every_day(points), SHANGHAI, CAPACITY, GAP)}
    assert {d: v for d, v in rollup.items() if d in scratch} == scratch
    if not shuffle and all(b.total >= a.total for a, b in pairwise(points)):
        assert extended == sum(1 for _ in cuts)  # every batch after the first takes the fast path


def test_extend_refuses_what_is_not_a_plain_continuation() -> None:
    start = datetime(2026, 5, 1, 23, 0, tzinfo=SHANGHAI)
    first, second = Point(start, Decimal(100)), Point(start + timedelta(hours=2), Decimal(130))
    tallies, inside = tally_days([first], [local_day(start, SHANGHAI)], SHANGHAI, CAPACITY, GAP)
    tail = take_tail(1, first, tallies[local_day(start, SHANGHAI)], inside[local_day(start, SHANGHAI)])
    late = Point(start - timedelta(hours=1), Decimal(90))
    drop = Point(start + timedelta(hours=1), Decimal(5))
    assert extend(tail, [late], 1, SHANGHAI, CAPACITY, GAP) is None
    assert extend(tail, [drop], 1, SHANGHAI, CAPACITY, GAP) is None
    plan = extend(tail, [second], 1, SHANGHAI, CAPACITY, GAP)
    assert plan is not None
    volumes, after = plan
    # 23:00 -> 01:00 across local midnight, 30 m³: 15 m³ on each day
    assert [(v.day.day, v.volume_m3, v.readings) for v in volumes] == [
        (1, Decimal("15.000000"), 1),
        (2, Decimal("15.000000"), 1),
    ]
    assert (after.stored, after.last, after.readings) == (2, second, 1)
