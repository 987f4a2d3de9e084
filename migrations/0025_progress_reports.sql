-- The monthly progress report (每月5日前报送进展情况): a county's month in figures, with its own words
-- on the work done, results, difficulties and proposals, submitted up the hierarchy like the year's
-- reports: a submission of kind 'progress' for a month, reviewed (accepted or returned) the same way.
ALTER TABLE submissions ADD COLUMN kind text NOT NULL DEFAULT 'annual' CHECK (kind IN ('annual', 'progress'));
ALTER TABLE submissions ADD COLUMN month date CHECK (month IS NULL OR extract(day FROM month) = 1);
ALTER TABLE submissions ADD CONSTRAINT submissions_progress_has_month CHECK ((kind = 'progress') = (month IS NOT NULL));
ALTER TABLE submissions DROP CONSTRAINT submissions_division_code_year_version_key;
ALTER TABLE submissions ADD CONSTRAINT submissions_version_key
    UNIQUE NULLS NOT DISTINCT (division_code, kind, year, month, version);
DROP INDEX submissions_live;
CREATE UNIQUE INDEX submissions_live ON submissions (division_code, kind, year, month) NULLS NOT DISTINCT
    WHERE state <> 'returned';

-- A progress report is issued as HTML (one page to read) as well as XLSX and CSV.
ALTER TABLE issued_exports DROP CONSTRAINT issued_exports_format_check;
ALTER TABLE issued_exports ADD CONSTRAINT issued_exports_format_check
    CHECK (format IN ('xlsx', 'csv', 'geojson', 'html'));
