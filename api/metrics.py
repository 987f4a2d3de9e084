"""The API's Prometheus metrics: requests by route template and status, and fleet gauges read from
the database when scraped (so every API replica reports the same fleet)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from psycopg_pool import ConnectionPool

FLEET = """
SELECT coalesce(s.status, 'never_reported'), count(*)
FROM meters m JOIN intakes i ON i.code = m.intake_code LEFT JOIN meter_state s ON s.meter_id = m.meter_id
WHERE m.removed_on IS NULL AND i.status <> 'decommissioned' GROUP BY 1"""
API_PREFIX = "/api/v1"
OPEN_FINDINGS = "SELECT problem, count(*) FROM findings WHERE state <> 'closed' GROUP BY 1"


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.requests = Counter(
            "intake_api_requests", "HTTP requests answered", ["method", "route", "status"], registry=r
        )
        self.seconds = Histogram("intake_api_request_seconds", "time to answer", ["route"], registry=r)
        self.meters = Gauge("intake_meters", "active meters by status", ["status"], registry=r)
        self.findings = Gauge(
            "intake_findings_open", "open findings by problem type", ["problem"], registry=r
        )

    def refresh(self, pool: ConnectionPool[Any]) -> None:
        with pool.connection(timeout=5) as conn:
            counts = dict(conn.execute(FLEET).fetchall())
            problems = dict(conn.execute(OPEN_FINDINGS).fetchall())
        for status in ("online", "offline", "never_reported"):
            self.meters.labels(status).set(counts.get(status, 0))
        for problem in ("unauthorized", "permit_expired", "metering", "over_permit", "fee_unpaid"):
            self.findings.labels(problem).set(problems.get(problem, 0))
