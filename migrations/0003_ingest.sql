-- What the collector keeps besides readings: refusals, conflicts, per meter-day volumes, meter
-- state and events. Everything is written in the same transaction as the readings it comes from.

-- Nothing received is silently dropped: what cannot be stored as a reading is kept here, raw.
CREATE TABLE rejected_messages (
    id          bigserial   PRIMARY KEY,
    received_at timestamptz NOT NULL,
    topic       text        NOT NULL,
    payload     bytea       NOT NULL,   -- the whole message as received
    element     integer,                -- index of the refused reading in an array payload; NULL: whole message
    reason      text        NOT NULL,   -- a code (devices/codec.py Reason), for counting and filtering
    message     text        NOT NULL    -- what is wrong, for people
);
CREATE INDEX rejected_messages_received ON rejected_messages (received_at);
CREATE INDEX rejected_messages_reason ON rejected_messages (reason, received_at);

-- Same meter, same device time, different values: kept for review, never overwritten.
CREATE TABLE reading_conflicts (
    id              bigserial   PRIMARY KEY,
    meter_id        text        NOT NULL,
    ts              timestamptz NOT NULL,
    received_at     timestamptz NOT NULL,
    total_m3        numeric     NOT NULL,
    flow_m3h        double precision,
    battery_v       double precision,
    rssi            smallint,
    alarms          text[],
    stored_total_m3 numeric     NOT NULL,  -- what readings holds for (meter_id, ts)
    topic           text        NOT NULL
);
CREATE INDEX reading_conflicts_meter ON reading_conflicts (meter_id, ts);

-- One row per meter and local day (INTAKE_TIMEZONE): see ingest/volumes.py.
CREATE TABLE daily_volumes (
    meter_id   text        NOT NULL,
    day        date        NOT NULL,
    volume_m3  numeric     NOT NULL,   -- the known part; with a reset in the day, a lower bound
    readings   integer     NOT NULL,   -- readings whose device time falls in the day
    first_ts   timestamptz,
    last_ts    timestamptz,
    coverage   real        NOT NULL,   -- share of the day inside intervals no longer than the allowed gap
    method     text        NOT NULL CHECK (method IN ('metered', 'incomplete')),
    flags      text[]      NOT NULL DEFAULT '{}',  -- gap, reset, rollover
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, day)
);
CREATE INDEX daily_volumes_day ON daily_volumes (day);

-- The newest reading by device time (not the last one received), and the last status message.
CREATE TABLE meter_state (
    meter_id         text PRIMARY KEY,
    last_reading_ts  timestamptz,
    last_total_m3    numeric,
    last_received_at timestamptz,
    last_status      text CHECK (last_status IN ('online', 'offline')),
    last_status_at   timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Birth (online) and last-will (offline) messages, as received.
CREATE TABLE meter_status_events (
    id          bigserial   PRIMARY KEY,
    meter_id    text        NOT NULL,
    received_at timestamptz NOT NULL,
    status      text        NOT NULL CHECK (status IN ('online', 'offline')),
    retained    boolean     NOT NULL DEFAULT false
);
CREATE INDEX meter_status_events_meter ON meter_status_events (meter_id, received_at);

-- Totalizer events found by the volume arithmetic: a rollover, or a reset (replacement, tampering).
CREATE TABLE meter_events (
    meter_id    text        NOT NULL,
    ts          timestamptz NOT NULL,   -- device time of the reading after the drop
    kind        text        NOT NULL CHECK (kind IN ('rollover', 'reset')),
    total_before numeric    NOT NULL,
    total_after  numeric    NOT NULL,
    prev_ts     timestamptz NOT NULL,
    detected_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, ts, kind)
);
