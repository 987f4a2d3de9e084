-- How many readings of each meter are stored: the collector's in-order fast path (ingest/tails.py)
-- trusts its cached tail of a meter only while this count is the one it last wrote. Whatever else
-- inserts readings must add to it.
ALTER TABLE meter_state ADD COLUMN readings_stored bigint NOT NULL DEFAULT 0;

UPDATE meter_state s SET readings_stored = c.n
FROM (SELECT meter_id, count(*) AS n FROM readings GROUP BY meter_id) c
WHERE c.meter_id = s.meter_id;

COMMENT ON COLUMN meter_state.readings_stored IS 'readings stored for the meter; the collector''s fast-path check';
