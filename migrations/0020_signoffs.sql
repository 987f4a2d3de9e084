-- Signed-off annual volumes (审核确认) with revisions: an auditor signs off an intake's annual volume for
-- a year, and every later report of that year shows the signed value. When later data (late readings,
-- a replay, a recompute, a correction) changes the computed value, the sweep records a revision (the
-- signed and the computed value, why, when) and the intake waits for re-review; a new sign-off accepts
-- it. Nothing is overwritten: a sign-off is superseded, never changed.
CREATE TABLE volume_signoffs (
    id            bigserial PRIMARY KEY,
    intake_code   text NOT NULL REFERENCES intakes,
    year          integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    volume_m3     numeric NOT NULL CHECK (volume_m3 >= 0),
    method        text NOT NULL,                  -- 数据获取方式 when signed
    signed_by     text NOT NULL,
    signed_at     timestamptz NOT NULL DEFAULT now(),
    note          text,
    superseded_by bigint REFERENCES volume_signoffs DEFERRABLE INITIALLY DEFERRED  -- set as its successor is made
);
CREATE UNIQUE INDEX volume_signoffs_current ON volume_signoffs (intake_code, year) WHERE superseded_by IS NULL;

CREATE TABLE volume_revisions (
    id           bigserial PRIMARY KEY,
    signoff_id   bigint NOT NULL REFERENCES volume_signoffs,
    detected_at  timestamptz NOT NULL DEFAULT now(),
    signed_m3    numeric NOT NULL,
    computed_m3  numeric NOT NULL,
    why          text NOT NULL,
    accepted_by  bigint REFERENCES volume_signoffs,  -- the sign-off that accepted it; NULL: pending
    UNIQUE (signoff_id, computed_m3)
);
COMMENT ON TABLE volume_revisions IS 'a signed annual volume the data no longer agrees with, until signed again';

GRANT SELECT ON volume_signoffs, volume_revisions TO intake_collector, intake_monitor, intake_api, intake_reader;
GRANT INSERT, UPDATE ON volume_signoffs, volume_revisions TO intake_api;
GRANT INSERT ON volume_revisions TO intake_monitor;
GRANT USAGE ON SEQUENCE volume_signoffs_id_seq, volume_revisions_id_seq TO intake_api;
GRANT USAGE ON SEQUENCE volume_revisions_id_seq TO intake_monitor;
