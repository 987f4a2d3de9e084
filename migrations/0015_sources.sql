-- A pipeline that does not know its transport: what was refused or in conflict says which source it
-- came from (mqtt, szy206) and which meter it is about, so nothing parses an MQTT topic to find out.
-- The topic stays for MQTT; TCP sources record their peer (the RTU's remote address) instead.
ALTER TABLE rejected_messages ADD COLUMN source text NOT NULL DEFAULT 'mqtt';
ALTER TABLE rejected_messages ADD COLUMN meter_id text;
ALTER TABLE rejected_messages ADD COLUMN peer text;
ALTER TABLE rejected_messages ALTER COLUMN topic DROP NOT NULL;
-- A device clock ahead of ours (reason ts_in_future): by how many seconds, as data, not in the text.
ALTER TABLE rejected_messages ADD COLUMN clock_ahead_s bigint;  -- a year-9999 clock is 2.5e11 s ahead
UPDATE rejected_messages SET meter_id = nullif(split_part(topic, '/', 2), '')
WHERE topic ~ '^meters/[^/]+/(readings|status)$';
UPDATE rejected_messages SET clock_ahead_s = substring(message FROM 'is ([0-9]+) s ahead')::bigint
WHERE reason = 'ts_in_future';
ALTER TABLE rejected_messages ALTER COLUMN source DROP DEFAULT;
CREATE INDEX rejected_messages_meter ON rejected_messages (meter_id, received_at);
COMMENT ON COLUMN rejected_messages.source IS 'the transport it came by: mqtt, szy206';
COMMENT ON COLUMN rejected_messages.meter_id IS 'the meter it names, when one could be named';
COMMENT ON COLUMN rejected_messages.peer IS 'TCP sources: the remote address it came from';

ALTER TABLE reading_conflicts ADD COLUMN source text NOT NULL DEFAULT 'mqtt';
ALTER TABLE reading_conflicts ADD COLUMN peer text;
ALTER TABLE reading_conflicts ALTER COLUMN topic DROP NOT NULL;
ALTER TABLE reading_conflicts ALTER COLUMN source DROP DEFAULT;

-- RTUs (遥测终端) that speak SZY 206: a meter is reached through its RTU's address (行政区划码 A1 +
-- 测站地址 A2, written 211321-00012) and its channel on that RTU (the n-th flow meter in a frame).
ALTER TABLE meters ADD COLUMN rtu_address text CHECK (rtu_address ~ '^[0-9]{6}-[0-9]{5}$');
ALTER TABLE meters ADD COLUMN rtu_channel smallint CHECK (rtu_channel BETWEEN 1 AND 64);
ALTER TABLE meters ADD CONSTRAINT meters_rtu_channel_with_address
    CHECK ((rtu_address IS NULL) = (rtu_channel IS NULL));
-- One meter in service per address and channel (a replaced meter keeps its address in its history).
CREATE UNIQUE INDEX meters_rtu_in_service ON meters (rtu_address, rtu_channel) WHERE removed_on IS NULL;

-- The sweep's meter_alarm rule reads the alarms of the last day: few readings carry any.
CREATE INDEX readings_alarmed ON readings (ts) WHERE cardinality(alarms) > 0;
