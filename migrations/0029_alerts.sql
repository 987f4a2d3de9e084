-- Alerts (docs/MONITORING.md, "Alerts"): a user's subscriptions to conditions inside their division,
-- each told once per state change (alert_items, unique per subscription, kind, subject and key),
-- sent as one message per subscription and digest interval (alert_deliveries), retried with backoff,
-- every attempt recorded (alert_attempts). `intake alerts run` does it, as intake_monitor.
CREATE TABLE alert_subscriptions (
    id             bigserial   PRIMARY KEY,
    owner          text        NOT NULL REFERENCES api_users (name) ON DELETE CASCADE,
    channel        text        NOT NULL CHECK (channel IN ('email', 'wecom', 'dingtalk', 'webhook')),
    target         text        NOT NULL CHECK (target <> ''),  -- an address, or a robot's or webhook's URL
    secret         text,                                    -- a DingTalk robot's signing secret (加签)
    kinds          text[]      NOT NULL CHECK (cardinality(kinds) > 0 AND kinds <@ ARRAY[
                       'meter_offline', 'permit_use', 'calibration_overdue', 'new_finding',
                       'submission_returned']),
    offline_hours  integer     NOT NULL DEFAULT 24 CHECK (offline_hours BETWEEN 1 AND 720),
    permit_share   numeric     NOT NULL DEFAULT 0.9 CHECK (permit_share > 0 AND permit_share <= 10),
    digest_minutes integer     NOT NULL DEFAULT 10 CHECK (digest_minutes BETWEEN 0 AND 1440),
    created_at     timestamptz NOT NULL DEFAULT now(),
    removed_at     timestamptz
);
CREATE INDEX alert_subscriptions_owner ON alert_subscriptions (owner);

CREATE TABLE alert_deliveries (
    id              bigserial   PRIMARY KEY,
    subscription_id bigint      NOT NULL REFERENCES alert_subscriptions,
    created_at      timestamptz NOT NULL,
    items           integer     NOT NULL CHECK (items > 0),
    state           text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    sent_at         timestamptz,
    last_error      text
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX alert_deliveries_subscription ON alert_deliveries (subscription_id, created_at);

CREATE TABLE alert_items (
    id              bigserial   PRIMARY KEY,
    subscription_id bigint      NOT NULL REFERENCES alert_subscriptions,
    kind            text        NOT NULL,
    subject         text        NOT NULL,
    key             text        NOT NULL,   -- the state told of: a new key is a new alert
    title           text        NOT NULL,
    detail          text        NOT NULL DEFAULT '',
    found_at        timestamptz NOT NULL,
    delivery_id     bigint      REFERENCES alert_deliveries,
    UNIQUE (subscription_id, kind, subject, key)
);
CREATE INDEX alert_items_waiting ON alert_items (subscription_id) WHERE delivery_id IS NULL;

CREATE TABLE alert_attempts (
    delivery_id bigint      NOT NULL REFERENCES alert_deliveries,
    at          timestamptz NOT NULL,
    ok          boolean     NOT NULL,
    error       text,
    PRIMARY KEY (delivery_id, at)
);

-- A subscription's target holds a robot's key: only the API (its owner's) and the alerts process read it.
GRANT SELECT ON alert_subscriptions TO intake_api, intake_monitor;
GRANT INSERT, UPDATE (removed_at) ON alert_subscriptions TO intake_api;
GRANT USAGE ON SEQUENCE alert_subscriptions_id_seq TO intake_api;
GRANT SELECT ON alert_deliveries, alert_items, alert_attempts
    TO intake_collector, intake_monitor, intake_api, intake_reader;
GRANT INSERT, UPDATE ON alert_deliveries, alert_items TO intake_monitor;
GRANT INSERT ON alert_attempts TO intake_monitor;
GRANT USAGE ON SEQUENCE alert_deliveries_id_seq, alert_items_id_seq TO intake_monitor;
GRANT SELECT (name, division_code, revoked_at) ON api_users TO intake_monitor;
