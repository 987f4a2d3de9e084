-- Several meters per intake (one per pump or outlet): an intake may have several active meters, its
-- volume is the sum of theirs (the rollups are per meter, reports add them up per intake), and status,
-- calibration and findings stay per meter. Existing data needs no change: one active meter per
-- intake is a case of several.
DROP INDEX meters_one_active_per_intake;
CREATE INDEX meters_active_by_intake ON meters (intake_code) WHERE removed_on IS NULL;
-- One open finding per intake, rule and meter (a meter rule on two meters of one intake is two).
DROP INDEX findings_one_open;
CREATE UNIQUE INDEX findings_one_open ON findings (intake_code, rule, (coalesce(meter_id, '')))
    WHERE state <> 'closed';
