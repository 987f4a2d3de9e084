-- When a meter is in service: from its installation until the end of its removal day (拆除日期, a
-- local day). A removal date in the future changes nothing before it comes; readings a meter took
-- before its removal (a store-and-forward backlog sent after a swap) are its own. The same rule in
-- Python is devices.model.in_service_on; ingest applies it per reading (its device time's local day).
CREATE FUNCTION meter_in_service(removed_on date, on_day date) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN removed_on IS NULL OR on_day <= removed_on;

COMMENT ON FUNCTION meter_in_service(date, date) IS
    'a meter is in service on a local day up to and including its removal day';
