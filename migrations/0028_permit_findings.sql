-- A readable ledger: a permit's problem (over its volume, projected over it, expiring, withdrawn after
-- expiry) is one finding for the permit (intake_code NULL, subject 'permit:<no>', its intakes in
-- evidence.intakes, in the division holding them all), and a stronger finding closes the weaker one
-- of the same subject (超许可 closes 预计超许可). Such a closure is recorded as 'superseded'.
ALTER TABLE finding_events DROP CONSTRAINT finding_events_action_check;
ALTER TABLE finding_events ADD CONSTRAINT finding_events_action_check
    CHECK (action IN ('detected', 'updated', 'rectifying', 'closed', 'resolved', 'superseded'));
-- The intakes a permit's finding covers: the findings of an intake (GET /findings?intake_code=) include them.
CREATE INDEX findings_covered_intakes ON findings USING gin ((evidence -> 'intakes'));
