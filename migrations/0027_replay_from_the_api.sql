-- An operator replays rejected messages from the dashboard (POST /api/v1/rejected/replay) after
-- fixing the registry: the API runs the collector's own replay (ingest/replay.py), which stores what
-- is now accepted, keeps what a replay newly refuses, and marks the rows it resolved.
GRANT INSERT ON rejected_messages, meter_status_events TO intake_api;
GRANT UPDATE (replayed_at, replay_result) ON rejected_messages TO intake_api;
GRANT USAGE ON SEQUENCE rejected_messages_id_seq, meter_status_events_id_seq TO intake_api;
