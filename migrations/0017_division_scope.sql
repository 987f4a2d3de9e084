-- Who sees what (属地管理): every API user belongs to a division (a county-level unit, a city, a
-- province; NULL: all of them) and sees only the intakes inside it. The rule lives here, once: a
-- division's scope is a prefix of the GB/T 2260 code (21 for 210000, 2113 for 211300, the whole code
-- for a county), and an intake not yet placed in a division is seen only by users of all divisions.
CREATE FUNCTION division_prefix(scope text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN scope IS NULL THEN ''
                WHEN scope ~ '0000$' THEN left(scope, 2)
                WHEN scope ~ '00$' THEN left(scope, 4)
                ELSE scope END
$$;
COMMENT ON FUNCTION division_prefix(text) IS 'the code prefix of every division inside this one (NULL: all, the empty prefix)';

CREATE FUNCTION in_scope(division text, scope text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT scope IS NULL OR coalesce(division LIKE division_prefix(scope) || '%', false)
$$;
COMMENT ON FUNCTION in_scope(text, text) IS 'whether a division (an intake''s, a user''s) lies inside a scope (a user''s division; NULL: all)';

ALTER TABLE api_users ADD COLUMN division_code text REFERENCES divisions;
COMMENT ON COLUMN api_users.division_code IS 'what the user sees and changes: a county, a city, a province; NULL: all';

-- Revoking the correction of a day without readings drops the row that only carried it
-- (anomaly/queries/corrections.py); the API could not, and answered 500.
GRANT DELETE ON daily_volumes TO intake_api;
