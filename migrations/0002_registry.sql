-- The registry: permits, intakes, meters (with history), calibrations, broker accounts.
-- Codes are English (devices/model.py); the forms' Chinese labels live in devices/forms.py.

CREATE TABLE permits (
    permit_no        text PRIMARY KEY,
    authority        text    NOT NULL,
    valid_from       date    NOT NULL,
    valid_to         date    NOT NULL,
    annual_volume_m3 numeric NOT NULL CHECK (annual_volume_m3 >= 0),  -- m³ (forms say 万m³)
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_to >= valid_from)
);

CREATE TABLE intakes (
    code                     text PRIMARY KEY,
    name                     text NOT NULL,
    owner                    text NOT NULL,
    credit_code              text,
    county                   text NOT NULL,
    township                 text,
    longitude                double precision NOT NULL CHECK (longitude BETWEEN 73.4 AND 135.1),
    latitude                 double precision NOT NULL CHECK (latitude BETWEEN 18.1 AND 53.6),
    engineering_type         text NOT NULL,
    design_daily_capacity_m3 numeric CHECK (design_daily_capacity_m3 > 0),
    status                   text NOT NULL CHECK (status IN ('under_construction', 'built', 'decommissioned')),
    source_type              text NOT NULL CHECK (source_type IN
                               ('river', 'lake', 'reservoir', 'shallow_groundwater', 'deep_groundwater')),
    source_name              text,
    water_resource_zone      text,
    water_use                text NOT NULL CHECK (water_use IN
                               ('irrigation', 'public_supply', 'industry', 'services', 'ecological')),
    industry_code            text,
    permit_no                text REFERENCES permits,  -- an intake has at most one permit
    updated_at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX intakes_county ON intakes (county);
CREATE INDEX intakes_permit ON intakes (permit_no);

CREATE TABLE meters (
    meter_id              text PRIMARY KEY CHECK (meter_id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    intake_code           text    NOT NULL REFERENCES intakes,
    meter_type            text    NOT NULL CHECK (meter_type IN
                            ('electromagnetic', 'ultrasonic', 'water_meter', 'open_channel', 'other')),
    dn                    integer CHECK (dn > 0),
    serial                text,
    online_capable        boolean NOT NULL,
    report_interval_s     integer NOT NULL CHECK (report_interval_s > 0),
    totalizer_capacity_m3 numeric CHECK (totalizer_capacity_m3 > 0),
    installed_on          date    NOT NULL,
    removed_on            date CHECK (removed_on >= installed_on),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
-- A replaced meter keeps its row (and its readings); an intake has at most one active meter.
CREATE UNIQUE INDEX meters_one_active_per_intake ON meters (intake_code) WHERE removed_on IS NULL;

CREATE TABLE calibrations (
    meter_id       text NOT NULL REFERENCES meters,
    calibrated_on  date NOT NULL,
    result         text NOT NULL CHECK (result IN ('pass', 'fail')),
    certificate_no text,
    PRIMARY KEY (meter_id, calibrated_on)
);

-- MQTT accounts: one per meter, plus service accounts (the collector). Only a hash is kept, in
-- Mosquitto's own PBKDF2-SHA512 format, so the broker's password file can be rebuilt at any time.
CREATE TABLE broker_accounts (
    username      text PRIMARY KEY,
    role          text NOT NULL CHECK (role IN ('meter', 'collector')),
    meter_id      text UNIQUE REFERENCES meters,
    password_hash text NOT NULL,
    issued_at     timestamptz NOT NULL DEFAULT now(),  -- when this password was issued (rotation renews it)
    CHECK ((role = 'meter') = (meter_id IS NOT NULL))
);
