from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from devices.calibration import CalibrationPeriods, next_due
from devices.model import ConstructionStatus, SourceType, WaterUse
from devices.sample import DIVISIONS, generate

TODAY = date(2026, 11, 29)


def test_same_seed_same_registry() -> None:
    assert generate(300, 7, TODAY) == generate(300, 7, TODAY)
    assert generate(300, 7, TODAY) != generate(300, 8, TODAY)


def test_a_realistic_mix_for_chaoyang() -> None:
    data = generate(3000, 1, TODAY)
    intakes = data.intakes
    n = len(intakes)
    assert n == 3000
    assert {i.county for i in intakes} == {d.name for d in DIVISIONS}
    assert all(118.9 <= i.longitude <= 121.1 and 40.9 <= i.latitude <= 42.1 for i in intakes)
    uses = Counter(i.water_use for i in intakes)
    wells = sum(1 for i in intakes if i.source_type.is_groundwater)
    assert uses[WaterUse.IRRIGATION] / n > 0.6 and wells / n > 0.6  # mostly irrigation wells
    assert uses[WaterUse.INDUSTRY] > 0 and uses[WaterUse.PUBLIC_SUPPLY] > 0
    assert any(i.source_type is SourceType.RESERVOIR for i in intakes)
    no_permit = sum(1 for i in intakes if i.permit_no is None)
    assert 0.05 < no_permit / n < 0.2
    expired = sum(1 for p in data.permits if p.valid_to < TODAY)
    expiring = sum(1 for p in data.permits if TODAY <= p.valid_to <= TODAY + timedelta(days=45))
    assert expired > 0 and expiring > 0
    assert any(len({i.code for i in intakes if i.permit_no == p.permit_no}) > 1 for p in data.permits[:200])
    assert 0 < sum(1 for i in intakes if i.status is ConstructionStatus.DECOMMISSIONED) / n < 0.06
    active = [m for m in data.meters if m.is_active]
    assert 0.05 < sum(1 for m in active if not m.online_capable) / len(active) < 0.2
    assert any(not m.is_active and m.meter_id.endswith("-0") for m in data.meters)  # replaced meters
    last = {c.meter_id: c.calibrated_on for c in sorted(data.calibrations, key=lambda c: c.calibrated_on)}
    overdue = sum(1 for m in active if next_due(m, last.get(m.meter_id), CalibrationPeriods()) < TODAY)
    assert 0.02 < overdue / len(active) < 0.2
