-- Least privilege: one PostgreSQL role per process kind, each granted only what that process does.
-- Roles are LOGIN without a password: nobody can log in as them with password authentication until
-- an administrator sets one (`intake db password ROLE`); the Compose file and scripts/stack set them.
-- Migrations run as the schema's owner. A migration that adds a table grants it here-alike.
--   intake_collector  readings and what is written with them; reads the registry (no users, accounts)
--   intake_monitor    the status and compliance sweeps: findings, meter status; reads the rest
--   intake_api        the HTTP API: reads everything but broker accounts; changes the registry,
--                     the ledger's lifecycle and the API's users
--   intake_reader     Grafana and reports: reads everything but users and broker accounts
DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['intake_collector', 'intake_monitor', 'intake_api', 'intake_reader'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = name) THEN
            EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE', name);
        END IF;
    END LOOP;
END $$;

GRANT USAGE ON SCHEMA public TO intake_collector, intake_monitor, intake_api, intake_reader;

-- Everyone reads the registry, the rollups and the state (not the API's users, not broker accounts).
GRANT SELECT ON schema_migrations, permits, intakes, meters, calibrations, readings, rejected_messages,
                reading_conflicts, daily_volumes, monthly_volumes, yearly_volumes, meter_state,
                meter_status_events, meter_events, meter_status_changes, findings, finding_events
    TO intake_collector, intake_monitor, intake_api, intake_reader;

-- The collector: readings and everything written in the same transaction.
GRANT INSERT ON readings, rejected_messages, reading_conflicts, meter_status_events TO intake_collector;
GRANT INSERT, UPDATE ON meter_state, daily_volumes, monthly_volumes, yearly_volumes TO intake_collector;
GRANT INSERT, DELETE ON meter_events TO intake_collector;
GRANT USAGE ON SEQUENCE rejected_messages_id_seq, reading_conflicts_id_seq, meter_status_events_id_seq
    TO intake_collector;

-- The monitor: meter status and the findings ledger.
GRANT INSERT, UPDATE ON meter_state, meter_status_changes, findings, finding_events TO intake_monitor;
GRANT USAGE ON SEQUENCE findings_id_seq, finding_events_id_seq TO intake_monitor;

-- The API: the registry (operators, admins' imports), the ledger's lifecycle, its own users.
GRANT INSERT, UPDATE ON permits, intakes, meters, calibrations, findings, finding_events TO intake_api;
GRANT SELECT, INSERT, UPDATE ON api_users TO intake_api;
GRANT USAGE ON SEQUENCE findings_id_seq, finding_events_id_seq TO intake_api;
