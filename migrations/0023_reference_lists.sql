-- Omissions (漏报) and mismatches: the lists a county checks its registry against (取水许可台账,
-- 水利普查, 农村饮水安全工程名录, 建设工程项目名录, 入驻开发区企业名录), kept as imported, and the
-- findings their check raises. A finding about something that is not a registered intake (a list
-- entry no intake matches: 应登未登; a permit of the ledger as a whole) has no intake: it names its
-- subject and the division it belongs to instead.
CREATE TABLE reference_lists (
    id            bigserial PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('permit_ledger', 'census', 'rural_water', 'projects', 'enterprises')),
    division_code text REFERENCES divisions,     -- the importer's division; null: all
    source        text NOT NULL,                 -- the file's name
    sha256        text NOT NULL,
    entries       integer NOT NULL,
    imported_by   text NOT NULL,
    imported_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE reference_entries (
    list_id        bigint NOT NULL REFERENCES reference_lists,
    row_no         integer NOT NULL,               -- as the user sees it in the file
    division_code  text NOT NULL REFERENCES divisions,
    name           text,
    owner          text,
    credit_code    text,
    permit_no      text,
    township       text,
    longitude      double precision,
    latitude       double precision,
    permitted_m3   numeric,
    valid_from     date,
    valid_to       date,
    cells          jsonb NOT NULL,                 -- the row as read, header -> text
    PRIMARY KEY (list_id, row_no)
);

ALTER TABLE findings DROP CONSTRAINT findings_problem_check;
ALTER TABLE findings ADD CONSTRAINT findings_problem_check CHECK (problem IN
    ('unauthorized', 'permit_expired', 'metering', 'over_permit', 'fee_unpaid', 'unregistered', 'registration'));
ALTER TABLE findings ALTER COLUMN intake_code DROP NOT NULL;
ALTER TABLE findings ADD COLUMN division_code text REFERENCES divisions;
ALTER TABLE findings ADD COLUMN subject text;   -- what an intake-less finding is about, e.g. permit:<no>
ALTER TABLE findings ADD CONSTRAINT findings_names_what
    CHECK (intake_code IS NOT NULL OR (division_code IS NOT NULL AND subject IS NOT NULL));
-- One open finding per division, rule and subject, as per intake and rule.
CREATE UNIQUE INDEX findings_one_open_subject ON findings (division_code, rule, subject)
    WHERE intake_code IS NULL AND state <> 'closed';

GRANT SELECT ON reference_lists, reference_entries TO intake_collector, intake_monitor, intake_api, intake_reader;
GRANT INSERT ON reference_lists, reference_entries TO intake_api;
GRANT USAGE ON SEQUENCE reference_lists_id_seq TO intake_api;
