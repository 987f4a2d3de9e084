-- The registry's audit trail: who changed which intake, meter or permit field, from what to what,
-- and when. Written by triggers, so no path (the API, an import, psql) can change the registry
-- without a trace; nobody is granted to write or change the trail itself (the trigger function runs
-- as its owner). Who: the application says it with set_config('intake.actor', ..., true) in the
-- transaction (the API's caller, `cli:<user>` for the command line); otherwise the database role.
CREATE TABLE registry_changes (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    actor     text NOT NULL,
    record    text NOT NULL CHECK (record IN ('intake', 'meter', 'permit')),
    key       text NOT NULL,
    field     text NOT NULL,      -- a column, or (created) / (deleted) for the whole record
    old_value text,
    new_value text
);
CREATE INDEX registry_changes_record ON registry_changes (record, key, at);
COMMENT ON TABLE registry_changes IS 'append-only audit trail of the registry (trigger-written)';

CREATE FUNCTION log_registry_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    kind text := TG_ARGV[0];
    key_column text := TG_ARGV[1];
    who text := coalesce(nullif(current_setting('intake.actor', true), ''), session_user);
    old_row jsonb := CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE to_jsonb(OLD) END;
    new_row jsonb := CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE to_jsonb(NEW) END;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO registry_changes (actor, record, key, field, new_value)
        VALUES (who, kind, new_row ->> key_column, '(created)', new_row::text);
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO registry_changes (actor, record, key, field, old_value)
        VALUES (who, kind, old_row ->> key_column, '(deleted)', old_row::text);
    ELSE
        INSERT INTO registry_changes (actor, record, key, field, old_value, new_value)
        SELECT who, kind, new_row ->> key_column, n.key, old_row ->> n.key, n.value #>> '{}'
        FROM jsonb_each(new_row) n
        WHERE n.key <> 'updated_at' AND (old_row -> n.key) IS DISTINCT FROM n.value;
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION log_registry_change() FROM PUBLIC;

CREATE TRIGGER intakes_audit AFTER INSERT OR UPDATE OR DELETE ON intakes
    FOR EACH ROW EXECUTE FUNCTION log_registry_change('intake', 'code');
CREATE TRIGGER meters_audit AFTER INSERT OR UPDATE OR DELETE ON meters
    FOR EACH ROW EXECUTE FUNCTION log_registry_change('meter', 'meter_id');
CREATE TRIGGER permits_audit AFTER INSERT OR UPDATE OR DELETE ON permits
    FOR EACH ROW EXECUTE FUNCTION log_registry_change('permit', 'permit_no');

GRANT SELECT ON registry_changes TO intake_collector, intake_monitor, intake_api, intake_reader;
