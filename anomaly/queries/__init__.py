"""The monitoring package's database side, one module per concern; the rest of anomaly/ is pure.

- ledger: findings and their lifecycle (open -> rectifying -> closed), with the audit trail;
- snapshot: what a compliance sweep reads, the sweep, annual volumes for the forms;
- status: meter status transitions, the fleet summary, online share and 到报率 per day.
"""

from anomaly.queries.ledger import (
    LIST_COLUMNS,
    Conn,
    apply_sweep,
    close_finding,
    history,
    list_findings,
    load_open,
    start_rectifying,
    sweep_lock,
)
from anomaly.queries.snapshot import annual_by_intake, load_snapshot, month_sums, review_signoffs, run_sweep
from anomaly.queries.status import fleet_summary, meter_days, run_status_sweep

__all__ = [
    "LIST_COLUMNS",
    "Conn",
    "annual_by_intake",
    "apply_sweep",
    "close_finding",
    "fleet_summary",
    "history",
    "list_findings",
    "load_open",
    "load_snapshot",
    "meter_days",
    "month_sums",
    "review_signoffs",
    "run_status_sweep",
    "run_sweep",
    "start_rectifying",
    "sweep_lock",
]
