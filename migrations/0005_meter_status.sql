-- Each meter's status as the status sweep last judged it, and every transition, so the service can
-- say "offline since" and compute the share of each day a meter was online.
ALTER TABLE meter_state ADD COLUMN status text CHECK (status IN ('never_reported', 'online', 'offline'));
ALTER TABLE meter_state ADD COLUMN status_since timestamptz;

CREATE TABLE meter_status_changes (
    meter_id text        NOT NULL,
    at       timestamptz NOT NULL,   -- when the meter entered the status
    status   text        NOT NULL CHECK (status IN ('never_reported', 'online', 'offline')),
    reason   text        NOT NULL,   -- reading, silence, last_will, registered
    PRIMARY KEY (meter_id, at, status)
);
