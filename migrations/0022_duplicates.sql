-- Duplicate registrations (重报): a person's decision on a pair of intakes the registry check found
-- alike. A dismissal (two intakes after all) is remembered so the pair is not shown again; a merge
-- moves the duplicate's meters (with their readings and volumes) and findings to the surviving intake,
-- removes the duplicate and keeps its whole registry row here (the audit trail has it too).
CREATE TABLE duplicate_reviews (
    id             bigserial PRIMARY KEY,
    intake_a       text NOT NULL,
    intake_b       text NOT NULL,
    decision       text NOT NULL CHECK (decision IN ('dismissed', 'merged')),
    survivor       text CHECK ((decision = 'merged') = (survivor IS NOT NULL)),
    evidence       jsonb NOT NULL DEFAULT '[]',   -- what the check showed when the person decided
    merged_record  jsonb,                         -- the removed intake's registry row
    moved          jsonb,                         -- what moved: meters, findings
    note           text NOT NULL CHECK (note <> ''),
    actor          text NOT NULL,
    at             timestamptz NOT NULL DEFAULT now(),
    CHECK (intake_a < intake_b),
    CHECK (survivor IS NULL OR survivor IN (intake_a, intake_b))
);
CREATE UNIQUE INDEX duplicate_reviews_dismissed ON duplicate_reviews (intake_a, intake_b)
    WHERE decision = 'dismissed';

GRANT SELECT ON duplicate_reviews TO intake_collector, intake_monitor, intake_api, intake_reader;
GRANT INSERT ON duplicate_reviews TO intake_api;
GRANT USAGE ON SEQUENCE duplicate_reviews_id_seq TO intake_api;
GRANT DELETE ON intakes TO intake_api;  -- a merge removes the duplicate (its row is kept above)
