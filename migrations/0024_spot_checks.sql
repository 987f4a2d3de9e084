-- Spot checks (监督检查, "四不两直"): a reproducible stratified sample of a division's intakes drawn
-- by the level above, assigned to inspectors, and what each inspection found on the ground. A spot
-- check belongs to the division that drew it (the checked county does not see it in advance); the
-- findings an inspection raises belong to the intakes, so the county sees and rectifies them.
CREATE TABLE spot_checks (
    id             bigserial PRIMARY KEY,
    owner_division text REFERENCES divisions,   -- who drew it; null: a user of all divisions
    division_code  text REFERENCES divisions,   -- the division checked; null: all
    title          text NOT NULL CHECK (title <> ''),
    seed           bigint NOT NULL,
    share          numeric CHECK (share > 0 AND share <= 1),
    sample_size    integer CHECK (sample_size > 0),
    population     integer NOT NULL,
    drawn_by       text NOT NULL,
    drawn_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((share IS NULL) <> (sample_size IS NULL))
);

CREATE TABLE spot_check_items (
    spot_check_id  bigint NOT NULL REFERENCES spot_checks,
    intake_code    text NOT NULL,
    division_code  text NOT NULL,
    risk           text NOT NULL CHECK (risk IN ('over_permit', 'no_meter', 'closed_recently', 'none')),
    registered     jsonb NOT NULL,     -- what the registry said when the sample was drawn
    inspector      text,
    PRIMARY KEY (spot_check_id, intake_code)
);

-- Only ever added to: a corrected inspection is a new row, the latest counts.
CREATE TABLE spot_check_inspections (
    id                  bigserial PRIMARY KEY,
    spot_check_id       bigint NOT NULL,
    intake_code         text NOT NULL,
    inspected_on        date NOT NULL,
    inspected_by        text NOT NULL,
    found               boolean NOT NULL,   -- the intake exists
    meter_serial        text,               -- on the meter found; null: no meter
    meter_as_registered boolean,
    rectification_real  boolean,
    photos              text[] NOT NULL DEFAULT '{}',   -- references to the photos (file names, URLs)
    notes               text NOT NULL DEFAULT '',
    findings            bigint[] NOT NULL DEFAULT '{}', -- what it raised in the ledger
    recorded_by         text NOT NULL,
    recorded_at         timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (spot_check_id, intake_code) REFERENCES spot_check_items
);
CREATE INDEX spot_check_inspections_item ON spot_check_inspections (spot_check_id, intake_code, id);

GRANT SELECT ON spot_checks, spot_check_items, spot_check_inspections
    TO intake_collector, intake_monitor, intake_api, intake_reader;
GRANT INSERT ON spot_checks, spot_check_items, spot_check_inspections TO intake_api;
GRANT UPDATE (inspector) ON spot_check_items TO intake_api;
GRANT USAGE ON SEQUENCE spot_checks_id_seq, spot_check_inspections_id_seq TO intake_api;
