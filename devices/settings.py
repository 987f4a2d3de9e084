"""Registry settings: the calibration period table and the due-soon window (``INTAKE_*`` variables)."""

from __future__ import annotations

from pydantic import Field

from devices.calibration import CalibrationPeriods
from infra.settings import Settings


class RegistrySettings(Settings):
    calibration_years_water_meter_dn25: int = Field(6, gt=0)  # JJG 162-2019: DN ≤ 25
    calibration_years_water_meter_dn50: int = Field(4, gt=0)  # 25 < DN ≤ 50
    calibration_years_water_meter_large: int = Field(2, gt=0)  # DN > 50
    calibration_years_electromagnetic: int = Field(2, gt=0)
    calibration_years_ultrasonic: int = Field(2, gt=0)
    calibration_years_open_channel: int = Field(2, gt=0)
    calibration_years_other: int = Field(2, gt=0)
    calibration_due_within_days: int = Field(30, ge=0)

    def calibration_periods(self) -> CalibrationPeriods:
        return CalibrationPeriods(
            water_meter_dn25=self.calibration_years_water_meter_dn25,
            water_meter_dn50=self.calibration_years_water_meter_dn50,
            water_meter_large=self.calibration_years_water_meter_large,
            electromagnetic=self.calibration_years_electromagnetic,
            ultrasonic=self.calibration_years_ultrasonic,
            open_channel=self.calibration_years_open_channel,
            other=self.calibration_years_other,
        )
