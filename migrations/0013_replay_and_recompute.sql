-- Replay and recompute (intake rejected replay, intake volumes recompute).
--
-- A rejected message that a replay has since stored (after its meter was registered, after a systemic
-- error) is marked, never deleted: the raw payload stays as received.
ALTER TABLE rejected_messages ADD COLUMN replayed_at timestamptz;
ALTER TABLE rejected_messages ADD COLUMN replay_result text;
CREATE INDEX rejected_messages_unreplayed ON rejected_messages (id) WHERE replayed_at IS NULL;
COMMENT ON COLUMN rejected_messages.replayed_at IS 'when intake rejected replay stored what this row refused';

-- A recompute rewrites a meter's daily volumes from its readings; the collector's in-order fast path
-- (ingest/tails.py) must then not extend a tail taken before it. The recompute bumps this version in
-- the same transaction, under the meter's row lock, and a tail is trusted only at the version it saw.
ALTER TABLE meter_state ADD COLUMN volumes_version bigint NOT NULL DEFAULT 0;

GRANT UPDATE (replayed_at, replay_result) ON rejected_messages TO intake_collector;
GRANT DELETE ON daily_volumes TO intake_collector;  -- a recompute drops days that no longer exist
