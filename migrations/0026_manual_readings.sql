-- Manual readings (人工抄表): a person read the meter's display and entered it. The reading itself is
-- stored in `readings` like any other (same validation, same volumes); this table says which readings
-- were entered by hand, by whom, when and with what evidence. A meter that cannot report online is
-- metered this way; the annual volume says which years were (anomaly/annual.py).
CREATE TABLE manual_readings (
    meter_id    text        NOT NULL,
    ts          timestamptz NOT NULL,   -- when the display was read (the reading's device time)
    total_m3    numeric     NOT NULL,   -- the totalizer as read, exactly as entered
    read_by     text        NOT NULL CHECK (read_by <> ''),  -- the inspector who read it
    photo_ref   text,                   -- a reference to the photo of the display (file name, URL)
    entered_by  text        NOT NULL,   -- the API user (or CLI operator) who entered it
    entered_at  timestamptz NOT NULL DEFAULT now(),
    channel     text        NOT NULL CHECK (channel IN ('form', 'upload', 'cli')),
    PRIMARY KEY (meter_id, ts)
);

COMMENT ON TABLE manual_readings IS 'Readings entered by hand (人工抄表); the reading is in readings';

GRANT SELECT ON manual_readings TO intake_collector, intake_monitor, intake_api, intake_reader;
GRANT INSERT ON manual_readings TO intake_api, intake_collector;
-- The API stores a manual reading through the collector's own store (ingest/manual.py): it writes
-- the reading, its conflicts, the meter's state and the days it touches. It could already correct
-- those days (0014); what it can add is a reading, and only the manual-readings routes do.
GRANT INSERT ON readings, reading_conflicts TO intake_api;
GRANT USAGE ON SEQUENCE reading_conflicts_id_seq TO intake_api;
GRANT INSERT, UPDATE ON meter_state TO intake_api;
GRANT INSERT, DELETE ON meter_events TO intake_api;
