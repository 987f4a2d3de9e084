-- Nothing invented: implausible totalizer intervals, corrections with a trail, and one rule for what
-- a day's volume counts as.

-- Totalizer events: an implausible rise (kept, flagged) joins rollovers and resets; implied_m3 keeps
-- what the interval would have meant (the rise, or the rollover a drop was refused as) for review.
ALTER TABLE meter_events DROP CONSTRAINT meter_events_kind_check;
ALTER TABLE meter_events ADD CONSTRAINT meter_events_kind_check
    CHECK (kind IN ('rollover', 'reset', 'implausible'));
ALTER TABLE meter_events ADD COLUMN implied_m3 numeric;

-- An operator's or auditor's correction of a meter's day: marked invalid, or given a corrected volume,
-- with a reason and evidence. The original stays in daily_volumes; a correction is revoked, never
-- deleted, and at most one per meter and day is in force.
CREATE TABLE volume_corrections (
    id            bigserial   PRIMARY KEY,
    meter_id      text        NOT NULL REFERENCES meters,
    day           date        NOT NULL,
    kind          text        NOT NULL CHECK (kind IN ('invalid', 'volume')),
    volume_m3     numeric     CHECK (volume_m3 >= 0),
    previous_m3   numeric,     -- the day's reported volume before this correction (NULL: no such day yet)
    reason        text        NOT NULL CHECK (reason ~ '\S'),
    evidence      text,
    created_by    text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_by    text,
    revoked_at    timestamptz,
    revoke_reason text,
    CHECK ((kind = 'volume') = (volume_m3 IS NOT NULL)),
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
CREATE UNIQUE INDEX volume_corrections_in_force ON volume_corrections (meter_id, day) WHERE revoked_at IS NULL;
CREATE INDEX volume_corrections_meter ON volume_corrections (meter_id, day);

-- What a day counts as, one rule stored beside the day (SQL and Python read these columns):
--   known     its volume is known: a correction gives it, or it is metered (or lies inside a gap, whose
--             total is exact) with no reset, implausible rise or stuck totalizer; an invalid day is not
--   credible  a basis to estimate other days from: metered in full, nothing flagged, not corrected
--   reported_m3  the volume reports show: a correction's, none (0) for an invalid or implausible day
--                (it is then estimated), else the register's
ALTER TABLE daily_volumes
    ADD COLUMN correction_id bigint REFERENCES volume_corrections,
    ADD COLUMN corrected_m3 numeric,
    ADD COLUMN invalid boolean NOT NULL DEFAULT false,
    ADD COLUMN known boolean GENERATED ALWAYS AS (
        NOT invalid AND (
            corrected_m3 IS NOT NULL
            OR ((method = 'metered' OR (flags && '{gap}' AND NOT flags && '{reset}'))
                AND NOT flags && '{implausible,stuck}'))) STORED,
    ADD COLUMN credible boolean GENERATED ALWAYS AS (
        correction_id IS NULL AND method = 'metered' AND NOT flags && '{implausible,reset,stuck}') STORED,
    ADD COLUMN reported_m3 numeric GENERATED ALWAYS AS (
        CASE WHEN invalid THEN 0
             WHEN corrected_m3 IS NOT NULL THEN corrected_m3
             WHEN flags && '{implausible}' THEN 0
             ELSE volume_m3 END) STORED;

-- The rollups follow: known days and volume (measured_*), everything reported (volume_m3), the
-- credible basis, and how many days were corrected or flagged.
ALTER TABLE monthly_volumes
    ADD COLUMN credible_days integer NOT NULL DEFAULT 0,
    ADD COLUMN credible_m3 numeric NOT NULL DEFAULT 0,
    ADD COLUMN corrected_days integer NOT NULL DEFAULT 0,
    ADD COLUMN flagged_days integer NOT NULL DEFAULT 0;
ALTER TABLE yearly_volumes
    ADD COLUMN credible_days integer NOT NULL DEFAULT 0,
    ADD COLUMN credible_m3 numeric NOT NULL DEFAULT 0,
    ADD COLUMN corrected_days integer NOT NULL DEFAULT 0,
    ADD COLUMN flagged_days integer NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION monthly_volumes_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    cols text := 'meter_id, day, reported_m3, known, credible, correction_id IS NOT NULL AS corrected, '
                 'flags && ''{implausible,stuck}'' AS flagged';
    changed text := CASE TG_OP
        WHEN 'INSERT' THEN format('SELECT %s, 1 AS sign FROM new_days', cols)
        WHEN 'UPDATE' THEN format('SELECT %s, 1 AS sign FROM new_days UNION ALL SELECT %s, -1 FROM old_days',
                                  cols, cols)
        ELSE format('SELECT %s, -1 AS sign FROM old_days', cols) END;
BEGIN
    EXECUTE format($sql$
        WITH d AS (SELECT * FROM (%s) c),
        months AS (
            INSERT INTO monthly_volumes AS m (meter_id, month, days, measured_days, measured_m3, volume_m3,
                                              credible_days, credible_m3, corrected_days, flagged_days)
            SELECT meter_id, date_trunc('month', day)::date, sum(sign), sum(sign * known::integer),
                   sum(CASE WHEN known THEN sign * reported_m3 ELSE 0 END), sum(sign * reported_m3),
                   sum(sign * credible::integer), sum(CASE WHEN credible THEN sign * reported_m3 ELSE 0 END),
                   sum(sign * corrected::integer), sum(sign * flagged::integer)
            FROM d GROUP BY 1, 2
            ON CONFLICT (meter_id, month) DO UPDATE SET
                days = m.days + EXCLUDED.days,
                measured_days = m.measured_days + EXCLUDED.measured_days,
                measured_m3 = m.measured_m3 + EXCLUDED.measured_m3,
                volume_m3 = m.volume_m3 + EXCLUDED.volume_m3,
                credible_days = m.credible_days + EXCLUDED.credible_days,
                credible_m3 = m.credible_m3 + EXCLUDED.credible_m3,
                corrected_days = m.corrected_days + EXCLUDED.corrected_days,
                flagged_days = m.flagged_days + EXCLUDED.flagged_days)
        INSERT INTO yearly_volumes AS y (meter_id, year, days, measured_days, measured_m3, volume_m3,
                                         credible_days, credible_m3, corrected_days, flagged_days)
        SELECT meter_id, extract(year FROM day)::integer, sum(sign), sum(sign * known::integer),
               sum(CASE WHEN known THEN sign * reported_m3 ELSE 0 END), sum(sign * reported_m3),
               sum(sign * credible::integer), sum(CASE WHEN credible THEN sign * reported_m3 ELSE 0 END),
               sum(sign * corrected::integer), sum(sign * flagged::integer)
        FROM d GROUP BY 1, 2
        ON CONFLICT (meter_id, year) DO UPDATE SET
            days = y.days + EXCLUDED.days,
            measured_days = y.measured_days + EXCLUDED.measured_days,
            measured_m3 = y.measured_m3 + EXCLUDED.measured_m3,
            volume_m3 = y.volume_m3 + EXCLUDED.volume_m3,
            credible_days = y.credible_days + EXCLUDED.credible_days,
            credible_m3 = y.credible_m3 + EXCLUDED.credible_m3,
            corrected_days = y.corrected_days + EXCLUDED.corrected_days,
            flagged_days = y.flagged_days + EXCLUDED.flagged_days
    $sql$, changed);
    RETURN NULL;
END $$;

-- Existing rollups, rebuilt under the new rule (nothing else changes: the days themselves are kept).
TRUNCATE monthly_volumes, yearly_volumes;
INSERT INTO monthly_volumes (meter_id, month, days, measured_days, measured_m3, volume_m3,
                             credible_days, credible_m3, corrected_days, flagged_days)
SELECT meter_id, date_trunc('month', day)::date, count(*), count(*) FILTER (WHERE known),
       coalesce(sum(reported_m3) FILTER (WHERE known), 0), sum(reported_m3),
       count(*) FILTER (WHERE credible), coalesce(sum(reported_m3) FILTER (WHERE credible), 0),
       count(*) FILTER (WHERE correction_id IS NOT NULL), count(*) FILTER (WHERE flags && '{implausible,stuck}')
FROM daily_volumes GROUP BY 1, 2;
INSERT INTO yearly_volumes (meter_id, year, days, measured_days, measured_m3, volume_m3,
                            credible_days, credible_m3, corrected_days, flagged_days)
SELECT meter_id, extract(year FROM month)::integer, sum(days), sum(measured_days), sum(measured_m3),
       sum(volume_m3), sum(credible_days), sum(credible_m3), sum(corrected_days), sum(flagged_days)
FROM monthly_volumes GROUP BY 1, 2;

-- Who may do what with corrections: auditors and operators correct through the API; the collector
-- keeps a corrected day's correction when it rewrites the day; everyone reads them.
GRANT SELECT ON volume_corrections TO intake_collector, intake_monitor, intake_api, intake_reader;
GRANT INSERT, UPDATE ON volume_corrections TO intake_api;
GRANT USAGE ON SEQUENCE volume_corrections_id_seq TO intake_api;
GRANT INSERT, UPDATE ON daily_volumes, monthly_volumes, yearly_volumes TO intake_api;
