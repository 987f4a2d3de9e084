"""Every threshold the rules use, in one documented table (docs/MONITORING.md). Pure values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Thresholds:
    # permits
    projected_warning_share: Decimal = Decimal("0.9")  # projection reaches 90 % of the permit: warning
    projected_alert_share: Decimal = Decimal("1.0")  # ... 100 %: alert
    projection_recent_days: int = 30  # without earlier years, project the recent daily rate
    projection_min_history_share: Decimal = Decimal("0.05")  # seasonal shape too thin below 5 % by this date
    expiry_warning_days: int = 45  # warn this long before a permit expires
    online_required_surface_m3: Decimal = Decimal(500_000)  # 50万 m³/yr: surface water needs online metering
    online_required_groundwater_m3: Decimal = Decimal(50_000)  # 5万 m³/yr: groundwater does
    # meters
    offline_after: timedelta = timedelta(hours=24)
    stuck_days: int = 3  # totalizer unchanged while flow is reported for more days than this
    flow_mismatch_pipe: Decimal = Decimal("0.05")  # day volume vs integrated flow, pipe meters
    flow_mismatch_open_channel: Decimal = Decimal("0.10")  # ... open-channel meters
    flow_check_min_coverage: float = 0.95  # only well-covered days are compared
    clock_skew: timedelta = timedelta(minutes=10)  # device time vs receive time
