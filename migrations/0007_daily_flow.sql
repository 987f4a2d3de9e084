-- The reported flow integrated over each day (each interval's part of the day x the flow reported at
-- its start), kept by the collector beside the totalizer volume so the sweep can compare the two
-- (flow_mismatch) without reading the readings again. NULL where some interval lacks a flow.
ALTER TABLE daily_volumes ADD COLUMN flow_m3 numeric;
COMMENT ON COLUMN daily_volumes.flow_m3 IS 'reported flow integrated over the day, m³; NULL if not every interval had one';
