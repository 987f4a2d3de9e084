-- Review up the hierarchy (逐级审核上报): a county submits its results for a year (the registration
-- form's annual volumes, Annex 2, Annex 3) as a submission that freezes what it contains; the city
-- accepts it or returns it with a reason; the county submits again (a new version); the city submits
-- its own roll-up to the province the same way. Every step is an event (who, when, a note);
-- submissions and events are only ever added to, a submission's state aside.
CREATE TABLE submissions (
    id            bigserial PRIMARY KEY,
    division_code text NOT NULL REFERENCES divisions,
    year          integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    version       integer NOT NULL CHECK (version >= 1),
    state         text NOT NULL CHECK (state IN ('submitted', 'returned', 'accepted')),
    contents      jsonb NOT NULL,      -- the frozen reports: {kind: {headers, rows}}
    sha256        text NOT NULL,       -- of the contents as frozen
    submitted_by  text NOT NULL,
    submitted_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (division_code, year, version)
);
-- One submission at a time under review or accepted per division and year.
CREATE UNIQUE INDEX submissions_live ON submissions (division_code, year) WHERE state <> 'returned';

CREATE TABLE submission_events (
    id            bigserial PRIMARY KEY,
    submission_id bigint NOT NULL REFERENCES submissions,
    at            timestamptz NOT NULL DEFAULT now(),
    actor         text NOT NULL,
    action        text NOT NULL CHECK (action IN ('submitted', 'returned', 'accepted')),
    note          text
);
CREATE INDEX submission_events_submission ON submission_events (submission_id, at);

GRANT SELECT, INSERT ON submissions, submission_events TO intake_api;
GRANT UPDATE (state) ON submissions TO intake_api;
GRANT USAGE ON SEQUENCE submissions_id_seq, submission_events_id_seq TO intake_api;
GRANT SELECT ON submissions, submission_events TO intake_collector, intake_monitor, intake_reader;
