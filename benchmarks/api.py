"""The API's heaviest answers over HTTP, on a county of 20,000 intakes.

    .venv/bin/python -m benchmarks.api [--intakes 20000] [--meters-with-readings 100] [--no-record]

Loads `intake registry sample --intakes N`, this year's daily volumes for every active meter
(monthly sums kept by the triggers), a status for every meter, and a year of 15-minute readings for
some meters, into a throwaway database on the server of INTAKE_DATABASE_URL. Starts `intake api`
and times, over real HTTP with one keep-alive client (median of 7 after 2 warm-ups):

- the fleet summary, against counting the same from every meter's status, paged (what a client
  without the summary would do);
- map.geojson, against the same features with this year's volumes summed from the daily rows
  instead of the monthly rollup (in process, without HTTP, which favours the baseline);
- one meter's year bucketed by day with time_bucket, against paging the year's raw readings and
  bucketing them in the client.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import psycopg

from api import accounts, queries
from api.auth import Role
from benchmarks.report import write_section
from benchmarks.scratch import load_sample
from benchmarks.sweep import VOLUMES
from infra.testbed import api_server, scratch_database

ZONE = ZoneInfo("Asia/Shanghai")
STATE = """
INSERT INTO meter_state (meter_id, last_received_at, status, status_since)
SELECT meter_id, now() - interval '5 minutes',
       (ARRAY['online', 'online', 'online', 'offline', 'never_reported'])[1 + floor(random() * 5)::int],
       now() - random() * interval '30 days'
FROM meters WHERE removed_on IS NULL"""
READINGS = """
INSERT INTO readings (meter_id, ts, received_at, total_m3, flow_m3h)
SELECT %(meter)s, t, t,
       round(((extract(epoch FROM t - %(start)s) / 900) * %(rate)s)::numeric, 3), %(rate)s * 4
FROM generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '15 minutes',
                     interval '15 minutes') t"""
# The baseline map: this year's volume per intake from the daily rows.
MAP_FROM_DAYS = queries.MAP.replace(  # checked below: the baseline must differ
    """SELECT m.intake_code, sum(v.volume_m3) AS m3
    FROM yearly_volumes v JOIN meters m ON m.meter_id = v.meter_id
    WHERE v.year = %(year)s""",
    """SELECT m.intake_code, sum(v.volume_m3) AS m3
    FROM daily_volumes v JOIN meters m ON m.meter_id = v.meter_id
    WHERE v.day >= %(year_start)s AND v.day <= %(today)s""",
)
assert MAP_FROM_DAYS != queries.MAP, "the map query changed: update the baseline's replacement"


MAP_BASELINE = "same, year-to-date from daily rows, no HTTP"
YEAR_BASELINE = "page the year's raw readings, bucket in the client"


def _median_ms(action: Callable[[], Any], runs: int = 7, warm: int = 2) -> float:
    for _ in range(warm):
        action()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _load(conn: psycopg.Connection[Any], intakes: int, with_readings: int, say: Callable[[str], None]) -> str:
    today = datetime.now(ZONE).date()
    data = load_sample(conn, intakes, today)
    say(f"registry: {intakes:,} intakes")
    started = time.perf_counter()
    conn.execute(VOLUMES, (date(today.year, 1, 1), today))
    conn.execute(STATE)
    say(f"this year's daily volumes for every active meter ({time.perf_counter() - started:.0f} s)")
    active = [m.meter_id for m in sorted(data.meters, key=lambda m: m.meter_id) if m.is_active]
    end = datetime.combine(today, datetime.min.time(), ZONE)
    start = end - timedelta(days=365)
    for n, meter in enumerate(active[:with_readings], 1):
        conn.execute(READINGS, {"meter": meter, "start": start, "end": end, "rate": 0.05 + (n % 97) / 10})
    conn.execute("ANALYZE")
    say(f"a year of 15-minute readings for {with_readings} meters")
    return active[0]


def _summary_by_paging(client: httpx.Client) -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    offset = 0
    while True:
        page = client.get("/api/v1/meters/status", params={"limit": 1000, "offset": offset}).json()
        counts.update((m["county"], m["status"]) for m in page["items"])
        offset += 1000
        if offset >= page["total"]:
            return counts


def _year_by_paging(client: httpx.Client, meter: str, start: datetime, end: datetime) -> int:
    days: dict[date, list[Decimal]] = {}
    offset = 0
    while True:
        page = client.get(
            f"/api/v1/meters/{meter}/readings",
            params={"from": start.isoformat(), "to": end.isoformat(), "limit": 1000, "offset": offset},
        ).json()
        for r in page["items"]:
            day = datetime.fromisoformat(r["ts"]).astimezone(ZONE).date()
            days.setdefault(day, []).append(Decimal(r["total_m3"]))
        offset += 1000
        if offset >= page["total"]:
            return len(days)


def run(intakes: int, with_readings: int, say: Callable[[str], None]) -> list[tuple[str, float, str, float]]:
    with scratch_database("intake_bench_api") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            meter = _load(conn, intakes, with_readings, say)
            token = accounts.add(conn, f"bench-{secrets.token_hex(4)}", Role.AUDITOR, "benchmark")
            today = datetime.now(ZONE).date()
            features = len(queries.map_rows(conn, today, None, None))

            def map_from_days() -> bytes:
                params = {
                    "year_start": date(today.year, 1, 1),
                    "today": today,
                    "year": today.year,
                    "county": None,
                }
                rows = conn.execute(MAP_FROM_DAYS, params).fetchall()
                return orjson.dumps([list(map(str, r)) for r in rows])

            baseline_map = _median_ms(map_from_days)
        end = datetime.combine(today, datetime.min.time(), ZONE)
        start = end - timedelta(days=365)
        quiet = ("--no-access-log", "--log-level", "warning")
        auth = {"Authorization": f"Bearer {token}"}
        with (
            api_server(url, *quiet, env={"INTAKE_API_MAP_CACHE_S": "0"}) as base,  # every map computed
            httpx.Client(base_url=base, headers=auth) as client,
        ):
            summary = _median_ms(lambda: client.get("/api/v1/fleet/summary").raise_for_status())
            summary_paged = _median_ms(lambda: _summary_by_paging(client), runs=3, warm=1)
            geo = _median_ms(lambda: client.get("/api/v1/map.geojson").raise_for_status())
            size = len(client.get("/api/v1/map.geojson").content)
            params = {"from": start.isoformat(), "to": end.isoformat(), "bucket": "1d"}
            year = _median_ms(
                lambda: client.get(f"/api/v1/meters/{meter}/readings", params=params).raise_for_status()
            )
            buckets = len(client.get(f"/api/v1/meters/{meter}/readings", params=params).json())
            year_paged = _median_ms(lambda: _year_by_paging(client, meter, start, end), runs=3, warm=1)
        with api_server(url, *quiet) as base, httpx.Client(base_url=base, headers=auth) as client:
            reused = _median_ms(lambda: client.get("/api/v1/map.geojson").raise_for_status())
        say(f"{features:,} intakes on the map ({size / 1e6:.1f} MB), {buckets} daily buckets")
        return [
            (
                f"fleet summary ({intakes:,} intakes)",
                summary,
                "counting every meter's status, paged",
                summary_paged,
            ),
            (
                f"map.geojson ({features:,} features, {size / 1e6:.1f} MB)",
                geo,
                "same, year-to-date from daily rows, no HTTP",
                baseline_map,
            ),
            (
                "map.geojson again within INTAKE_API_MAP_CACHE_S (15 s)",
                reused,
                "computed afresh (the row above)",
                geo,
            ),
            (
                f"one meter's year by day ({buckets} buckets)",
                year,
                "paging 35,040 raw readings, bucketing in the client",
                year_paged,
            ),
        ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--intakes", type=int, default=20000)
    parser.add_argument("--meters-with-readings", type=int, default=100)
    parser.add_argument("--no-record", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args()
    started = datetime.now(UTC)
    results = run(args.intakes, args.meters_with_readings, lambda line: print(line, flush=True))
    lines = [
        "| answer | API over HTTP (median) | target | baseline | baseline time | speed-up |",
        "|---|---|---|---|---|---|",
    ]
    targets = ["< 200 ms", "< 200 ms", "< 200 ms", "< 100 ms"]
    for (what, ours, baseline, theirs), target in zip(results, targets, strict=True):
        lines.append(
            f"| {what} | {ours:,.1f} ms | {target} | {baseline} | {theirs:,.1f} ms | {theirs / ours:,.1f}x |"
        )
    table = "\n".join(lines)
    print(table)
    if not args.no_record:
        command = (
            f"python -m benchmarks.api --intakes {args.intakes} "
            f"--meters-with-readings {args.meters_with_readings}"
        )
        minutes = (datetime.now(UTC) - started).total_seconds() / 60
        body = (
            f"{table}\n\nOne keep-alive HTTP client against `intake api` (uvicorn, one process) on the "
            "same machine; each time is the median of 7 requests after 2 warm-ups (3 after 1 for the paged "
            "baselines). The database holds this year's daily volumes for every active meter and a year "
            f"of 15-minute readings for {args.meters_with_readings} meters. Took {minutes:.0f} min.\n\n"
            "What bounds a freshly computed map, measured in the handler: the query ~120 ms (20,000 intakes "
            "joined to their meter, its state, this year's volume from `yearly_volumes` and the permit; "
            "EXPLAIN ANALYZE), building the features ~40 ms and serialising them ~20 ms, with ~15 ms of "
            "framework around it. Steps that got it here from 372 ms: the yearly rollup instead of summing "
            "months (the query went from ~250 to ~140 ms), each permit's share added up in Python instead of "
            "a window (~25 ms), sorting by code in Python instead of in the database's collation (~15 ms), "
            "pausing the cyclic garbage collector while ~80,000 small objects are built (~35 ms), and plain "
            "ASGI middleware instead of Starlette's BaseHTTPMiddleware. A fresh map sits at the 200 ms "
            "target on this 2-core machine (194–213 ms over the last runs); a map reused within "
            "`INTAKE_API_MAP_CACHE_S` (default 15 s; statuses change at most once a minute, with the status "
            "sweep) is far under it."
        )
        write_section("API", command, body)


if __name__ == "__main__":
    main()
