-- The rectification ledger (整改台账, Annex 3): findings tracked from detection to closure (销号).

CREATE TABLE findings (
    id             bigserial   PRIMARY KEY,
    rule           text        NOT NULL,            -- the rule that found it (docs/MONITORING.md)
    problem        text        NOT NULL CHECK (problem IN
                     ('unauthorized', 'permit_expired', 'metering', 'over_permit', 'fee_unpaid')),
    severity       text        NOT NULL CHECK (severity IN ('warning', 'alert')),
    intake_code    text        NOT NULL REFERENCES intakes,
    permit_no      text,
    meter_id       text,
    description    text        NOT NULL,            -- 问题描述
    evidence       jsonb       NOT NULL DEFAULT '{}',
    state          text        NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'rectifying', 'closed')),
    first_detected date        NOT NULL,
    last_confirmed date        NOT NULL,
    measure        text,                            -- 整改措施
    responsible    text,                            -- 责任单位及责任人
    deadline       date,                            -- 整改时限
    closed_on      timestamptz,
    closed_by      text,
    close_note     text,                            -- 整改完成情况 / 销号说明
    CHECK (state <> 'rectifying' OR (measure IS NOT NULL AND responsible IS NOT NULL AND deadline IS NOT NULL)),
    CHECK (state <> 'closed' OR (closed_on IS NOT NULL AND closed_by IS NOT NULL AND close_note IS NOT NULL))
);
-- One open (or rectifying) finding per intake and rule: re-detection updates it.
CREATE UNIQUE INDEX findings_one_open ON findings (intake_code, rule) WHERE state <> 'closed';
CREATE INDEX findings_state ON findings (state, problem);

-- Every change, by whom and when.
CREATE TABLE finding_events (
    id         bigserial   PRIMARY KEY,
    finding_id bigint      NOT NULL REFERENCES findings,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text        NOT NULL,               -- a person, or 'system' for the sweeps
    action     text        NOT NULL CHECK (action IN ('detected', 'updated', 'rectifying', 'closed', 'resolved')),
    details    jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX finding_events_finding ON finding_events (finding_id, at);
