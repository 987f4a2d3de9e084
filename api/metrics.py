"""The API's Prometheus metrics: requests by route template and status, and fleet gauges read from
the database when scraped (so every API replica reports the same fleet), for the scraper's division."""

from __future__ import annotations

from typing import Any

import psycopg
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from anomaly.findings import ProblemType
from anomaly.queries import fleet_summary
from anomaly.status import MeterStatus

API_PREFIX = "/api/v1"
OPEN_FINDINGS = """
SELECT f.problem, count(*) FROM findings f LEFT JOIN intakes i ON i.code = f.intake_code
WHERE f.state <> 'closed' AND in_scope(coalesce(i.division_code, f.division_code), %(scope)s) GROUP BY 1"""


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.requests = Counter(
            "intake_api_requests", "HTTP requests answered", ["method", "route", "status"], registry=r
        )
        self.seconds = Histogram("intake_api_request_seconds", "time to answer", ["route"], registry=r)


def fleet_metrics(conn: psycopg.Connection[Any], scope: str | None) -> bytes:
    """The fleet's gauges for division ``scope`` (None: all), in a registry of this scrape's own."""
    r = CollectorRegistry()
    meters = Gauge("intake_meters", "active meters by status", ["status"], registry=r)
    findings = Gauge("intake_findings_open", "open findings by problem type", ["problem"], registry=r)
    counties = fleet_summary(conn, scope)
    problems = dict(conn.execute(OPEN_FINDINGS, {"scope": scope}).fetchall())
    for status in MeterStatus:
        meters.labels(str(status)).set(sum(c[str(status)] for c in counties))
    for problem in ProblemType:
        findings.labels(str(problem)).set(problems.get(str(problem), 0))
    return generate_latest(r)
