"""The monthly progress report's figures, per county-level division inside a scope, from the registry
(and its audit trail), the ledger, the meters' status and daily volumes, and the submissions."""

from __future__ import annotations

from dataclasses import fields
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from anomaly.progress import Progress, month_end, total
from anomaly.queries.exports import division_name
from anomaly.queries.ledger import Conn

# Month bounds are local: [start, end) in time, [first, last] in days.
FIGURES = """
WITH inside AS (
    SELECT code, division_code FROM intakes i
    WHERE division_code IS NOT NULL AND in_scope(i.division_code, %(scope)s)
), created AS (  -- an intake registered before the audit trail began counts as registered before any month
    SELECT key AS code, min(at) AS at FROM registry_changes WHERE record = 'intake' AND field = '(created)'
    GROUP BY key
), intake_counts AS (
    SELECT n.division_code, count(*) FILTER (WHERE c.at IS NULL OR c.at < %(end)s) AS total,
           count(*) FILTER (WHERE c.at >= %(start)s AND c.at < %(end)s) AS new
    FROM inside n LEFT JOIN created c ON c.code = n.code GROUP BY 1
), f AS (
    SELECT f.*, coalesce(i.division_code, f.division_code) AS division
    FROM findings f LEFT JOIN intakes i ON i.code = f.intake_code
    WHERE in_scope(coalesce(i.division_code, f.division_code), %(scope)s)
), finding_counts AS (
    SELECT division,
           count(*) FILTER (WHERE first_detected BETWEEN %(first)s AND %(last)s) AS opened,
           count(*) FILTER (WHERE closed_on >= %(start)s AND closed_on < %(end)s AND closed_by <> 'system') AS closed,
           count(*) FILTER (WHERE closed_on >= %(start)s AND closed_on < %(end)s AND closed_by <> 'system'
                            AND (closed_on AT TIME ZONE %(zone)s)::date <= deadline) AS closed_on_time,
           count(*) FILTER (WHERE closed_on >= %(start)s AND closed_on < %(end)s AND closed_by = 'system') AS resolved,
           count(*) FILTER (WHERE first_detected <= %(last)s AND (closed_on IS NULL OR closed_on >= %(end)s))
               AS open_at_end
    FROM f GROUP BY 1
), rectifying AS (
    SELECT f.division, count(DISTINCT e.finding_id) AS n
    FROM finding_events e JOIN f ON f.id = e.finding_id
    WHERE e.action = 'rectifying' AND e.at >= %(start)s AND e.at < %(end)s GROUP BY 1
), meters_in AS (  -- meters in service during the month, and for how many of its days
    SELECT m.meter_id, n.division_code, m.online_capable, m.report_interval_s,
           (m.removed_on IS NULL OR m.removed_on > %(last)s) AS active_at_end,
           least(coalesce(m.removed_on, %(last)s), %(last)s) - greatest(m.installed_on, %(first)s) + 1 AS days
    FROM meters m JOIN inside n ON n.code = m.intake_code
    WHERE m.installed_on <= %(last)s AND (m.removed_on IS NULL OR m.removed_on >= %(first)s)
), status_at_end AS (
    SELECT DISTINCT ON (c.meter_id) c.meter_id, c.status
    FROM meter_status_changes c JOIN meters_in USING (meter_id)
    WHERE c.at < %(end)s ORDER BY c.meter_id, c.at DESC
), received AS (
    SELECT d.meter_id, sum(d.readings) AS n FROM daily_volumes d JOIN meters_in USING (meter_id)
    WHERE d.day BETWEEN %(first)s AND %(last)s GROUP BY 1
), volumes AS (
    SELECT v.meter_id, v.measured_days, v.measured_m3, v.volume_m3
    FROM monthly_volumes v JOIN meters_in USING (meter_id) WHERE v.month = %(first)s
), meter_counts AS (
    SELECT m.division_code,
           count(*) FILTER (WHERE m.active_at_end) AS active,
           count(*) FILTER (WHERE m.active_at_end AND s.status = 'online') AS online,
           sum(CASE WHEN m.online_capable THEN m.days * 86400 / m.report_interval_s ELSE 0 END) AS expected,
           sum(CASE WHEN m.online_capable
                    THEN least(coalesce(r.n, 0), m.days * 86400 / m.report_interval_s) ELSE 0 END) AS received,
           sum(m.days) AS meter_days, coalesce(sum(v.measured_days), 0) AS measured_days,
           coalesce(sum(v.measured_m3), 0) AS metered_m3, coalesce(sum(v.volume_m3), 0) AS known_m3
    FROM meters_in m LEFT JOIN status_at_end s USING (meter_id) LEFT JOIN received r USING (meter_id)
    LEFT JOIN volumes v USING (meter_id)
    GROUP BY 1
), reviewed AS (  -- the intakes of each division's accepted annual submission, the latest by the month's end
    SELECT DISTINCT ON (s.division_code) s.division_code,
           jsonb_array_length(s.contents -> 'registration' -> 'rows') AS n, e.at >= %(start)s AS this_month
    FROM submissions s JOIN submission_events e ON e.submission_id = s.id AND e.action = 'accepted'
    WHERE s.kind = 'annual' AND e.at < %(end)s AND in_scope(s.division_code, %(scope)s)
    ORDER BY s.division_code, e.at DESC
), annual AS (
    SELECT DISTINCT ON (division_code) division_code, state FROM submissions
    WHERE kind = 'annual' AND year = %(year)s ORDER BY division_code, version DESC
), progress AS (
    SELECT DISTINCT ON (division_code) division_code, state FROM submissions
    WHERE kind = 'progress' AND month = %(first)s ORDER BY division_code, version DESC
), divisions_seen AS (
    SELECT division_code AS code FROM inside UNION SELECT division FROM f WHERE division IS NOT NULL
)
SELECT d.code, division_label(d.code),
       coalesce(ic.total, 0), coalesce(ic.new, 0), coalesce(rv.n, 0),
       CASE WHEN rv.this_month THEN rv.n ELSE 0 END,
       coalesce(fc.opened, 0), coalesce(rc.n, 0), coalesce(fc.closed, 0), coalesce(fc.closed_on_time, 0),
       coalesce(fc.resolved, 0), coalesce(fc.open_at_end, 0),
       coalesce(mc.active, 0), coalesce(mc.online, 0), coalesce(mc.expected, 0), coalesce(mc.received, 0),
       coalesce(mc.meter_days, 0), coalesce(mc.measured_days, 0), coalesce(mc.metered_m3, 0),
       coalesce(mc.known_m3, 0), coalesce(a.state, ''), coalesce(p.state, '')
FROM divisions_seen d
LEFT JOIN intake_counts ic ON ic.division_code = d.code
LEFT JOIN finding_counts fc ON fc.division = d.code
LEFT JOIN rectifying rc ON rc.division = d.code
LEFT JOIN meter_counts mc ON mc.division_code = d.code
LEFT JOIN reviewed rv ON rv.division_code = d.code
LEFT JOIN annual a ON a.division_code = d.code
LEFT JOIN progress p ON p.division_code = d.code
ORDER BY d.code"""


def figures(conn: Conn, scope: str | None, first: date, zone: str) -> list[Progress]:
    """Each county-level division's month inside ``scope`` (None: all), by code."""
    tz = ZoneInfo(zone)
    last = month_end(first)
    params: dict[str, Any] = {
        "scope": scope,
        "first": first,
        "last": last,
        "start": datetime.combine(first, time(), tz),
        "end": datetime.combine(last + timedelta(days=1), time(), tz),
        "zone": zone,
        "year": first.year,
    }
    rows = conn.execute(FIGURES, params).fetchall()
    names = [f.name for f in fields(Progress)]
    return [Progress(**dict(zip(names, row, strict=True))) for row in rows]


def report(conn: Conn, scope: str | None, first: date, zone: str) -> tuple[str, list[Progress]]:
    """The report's title and rows: each county-level division inside ``scope``, then (more than one)
    their total, 合计."""
    rows = figures(conn, scope, first, zone)
    name = division_name(conn, scope) or "全部"
    if len(rows) > 1:
        rows.append(total(scope or "000000", f"{name}合计", rows))
    return f"{name} 取用水管理专项整治行动进展情况 {first:%Y-%m}", rows
