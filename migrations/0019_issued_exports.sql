-- Verifiable exports: every report file the service issues (XLSX, CSV, and the map as GeoJSON) is recorded by its SHA-256 with
-- its provenance (which report, division and period, when, for whom, the data's cut-off), so a file
-- handed on can be checked to be exactly what was issued (`intake verify FILE`,
-- POST /api/v1/exports/verify). An edited file has another hash and is not found.
CREATE TABLE issued_exports (
    sha256        text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    report        text NOT NULL,
    format        text NOT NULL CHECK (format IN ('xlsx', 'csv', 'geojson')),
    division_code text REFERENCES divisions,      -- NULL: all divisions
    year          integer NOT NULL,
    as_of         date NOT NULL,
    issued_at     timestamptz NOT NULL,
    issued_by     text NOT NULL,
    cutoff        timestamptz,                    -- the newest reading committed when it was made
    bytes         bigint NOT NULL CHECK (bytes > 0)
);
COMMENT ON TABLE issued_exports IS 'every report file issued, by content hash, with its provenance';
GRANT SELECT, INSERT ON issued_exports TO intake_api;
GRANT SELECT ON issued_exports TO intake_collector, intake_monitor, intake_reader;
