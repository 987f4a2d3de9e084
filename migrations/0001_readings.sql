-- Readings: one row per (meter, device time), the cumulative totalizer and what came with it.
-- The collector inserts with ON CONFLICT (meter_id, ts) DO NOTHING, so a reading delivered twice is
-- stored once; late and out-of-order readings simply land in their place (device time order).

CREATE EXTENSION IF NOT EXISTS timescaledb;

CREATE TABLE readings (
    meter_id    text             NOT NULL,
    ts          timestamptz      NOT NULL,            -- device time (when the meter took the reading)
    received_at timestamptz      NOT NULL DEFAULT now(), -- when the collector received it
    total_m3    numeric          NOT NULL CHECK (total_m3 >= 0), -- cumulative totalizer, exact decimal
    flow_m3h    double precision,                      -- instantaneous flow, if the meter reports it
    battery_v   double precision,
    rssi        smallint,                              -- signal strength (dBm or CSQ, as the meter says)
    alarms      text[],                                -- alarm flags the meter raised with this reading
    CONSTRAINT readings_meter_ts_key UNIQUE (meter_id, ts)
);

-- Weekly chunks: a year is ~52 chunks, so a bounded query plans quickly (DESIGN.md §7).
SELECT create_hypertable('readings', 'ts', chunk_time_interval => interval '7 days');

COMMENT ON TABLE readings IS 'Flow-meter readings, one per (meter, device time); TimescaleDB hypertable on ts';
