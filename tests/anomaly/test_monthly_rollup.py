"""The monthly and yearly rollups (migrations 0008, 0010) stay equal to summing daily_volumes,
whatever changes them."""

from __future__ import annotations

import random
from datetime import date, timedelta

import psycopg

MEASURED = "(method = 'metered' OR (flags && '{gap}' AND NOT flags && '{reset}'))"
FROM_DAYS = f"""
SELECT meter_id, date_trunc('month', day)::date, count(*), count(*) FILTER (WHERE {MEASURED}),
       coalesce(sum(volume_m3) FILTER (WHERE {MEASURED}), 0), sum(volume_m3)
FROM daily_volumes GROUP BY 1, 2 ORDER BY 1, 2"""
ROLLUP = """
SELECT meter_id, month, days, measured_days, measured_m3, volume_m3 FROM monthly_volumes
WHERE days > 0 ORDER BY 1, 2"""
YEARS_FROM_DAYS = f"""
SELECT meter_id, extract(year FROM day)::integer, count(*), count(*) FILTER (WHERE {MEASURED}),
       coalesce(sum(volume_m3) FILTER (WHERE {MEASURED}), 0), sum(volume_m3)
FROM daily_volumes GROUP BY 1, 2 ORDER BY 1, 2"""
YEARS = """
SELECT meter_id, year, days, measured_days, measured_m3, volume_m3 FROM yearly_volumes
WHERE days > 0 ORDER BY 1, 2"""
UPSERT = """
INSERT INTO daily_volumes (meter_id, day, volume_m3, readings, coverage, method, flags)
VALUES (%s, %s, %s, 96, %s, %s, %s)
ON CONFLICT (meter_id, day) DO UPDATE SET volume_m3 = EXCLUDED.volume_m3, coverage = EXCLUDED.coverage,
    method = EXCLUDED.method, flags = EXCLUDED.flags"""


def test_rollup_follows_inserts_updates_and_deletes(database_url: str) -> None:
    rnd = random.Random(5)
    kinds = [("metered", []), ("incomplete", ["gap"]), ("incomplete", ["reset"]), ("incomplete", [])]
    with psycopg.connect(database_url) as conn:
        for _round in range(6):
            rows = []
            for _ in range(300):
                method, flags = rnd.choice(kinds)
                day = date(2025, 11, 1) + timedelta(days=rnd.randrange(120))  # across a new year
                volume = rnd.randrange(0, 10**7) / 1000
                rows.append(
                    (f"M{rnd.randrange(4)}", day, volume, 1.0 if method == "metered" else 0.5, method, flags)
                )
            with conn.cursor() as cur:
                for row in rows:  # one statement per row: inserts and updates of one day
                    cur.execute(UPSERT, row)
                cur.executemany(UPSERT, rows[:50])  # and the same days again
                cur.execute(
                    "DELETE FROM daily_volumes WHERE day = %s",
                    (date(2025, 11, 1) + timedelta(days=rnd.randrange(120)),),
                )
            conn.commit()
        rollup = conn.execute(ROLLUP).fetchall()
        expected = conn.execute(FROM_DAYS).fetchall()
        years = conn.execute(YEARS).fetchall()
        expected_years = conn.execute(YEARS_FROM_DAYS).fetchall()
    assert rollup == expected
    assert len(rollup) > 10
    assert years == expected_years
    assert {y for _m, y, *_rest in years} == {2025, 2026}
