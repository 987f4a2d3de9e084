"""The API's Prometheus metrics: requests by route template and status, and fleet gauges read from
the database when scraped (so every API replica reports the same fleet)."""

from __future__ import annotations

from typing import Any

import psycopg
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from anomaly.findings import ProblemType
from anomaly.queries import fleet_summary
from anomaly.status import MeterStatus

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

    def refresh(self, conn: psycopg.Connection[Any]) -> None:
        counties = fleet_summary(conn)
        problems = dict(conn.execute(OPEN_FINDINGS).fetchall())
        for status in MeterStatus:
            self.meters.labels(str(status)).set(sum(c[str(status)] for c in counties))
        for problem in ProblemType:
            self.findings.labels(str(problem)).set(problems.get(str(problem), 0))
