-- Monthly sums of daily_volumes per meter, kept in step by statement triggers in the same transaction
-- as every change to daily_volumes (the collector's upserts, recomputations, loads), so the sweep and
-- the annual reports read a few hundred thousand month rows instead of millions of days.
-- A day counts as measured when it is metered, or interpolated over a gap with no reset in it (the
-- 数据获取方式 rule, docs/MONITORING.md).
CREATE TABLE monthly_volumes (
    meter_id      text    NOT NULL,
    month         date    NOT NULL,            -- its first day
    days          integer NOT NULL,            -- day rows
    measured_days integer NOT NULL,
    measured_m3   numeric NOT NULL,
    volume_m3     numeric NOT NULL,
    PRIMARY KEY (meter_id, month)
);

CREATE FUNCTION monthly_volumes_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO monthly_volumes AS m (meter_id, month, days, measured_days, measured_m3, volume_m3)
        SELECT meter_id, date_trunc('month', day)::date, sum(sign), sum(sign * measured::integer),
               sum(CASE WHEN measured THEN sign * volume_m3 ELSE 0 END), sum(sign * volume_m3)
        FROM (SELECT meter_id, day, volume_m3, 1 AS sign, method = 'metered' OR (flags && '{gap}' AND NOT flags && '{reset}') AS measured FROM new_days) d
        GROUP BY 1, 2
        ON CONFLICT (meter_id, month) DO UPDATE SET
            days = m.days + EXCLUDED.days,
            measured_days = m.measured_days + EXCLUDED.measured_days,
            measured_m3 = m.measured_m3 + EXCLUDED.measured_m3,
            volume_m3 = m.volume_m3 + EXCLUDED.volume_m3;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO monthly_volumes AS m (meter_id, month, days, measured_days, measured_m3, volume_m3)
        SELECT meter_id, date_trunc('month', day)::date, sum(sign), sum(sign * measured::integer),
               sum(CASE WHEN measured THEN sign * volume_m3 ELSE 0 END), sum(sign * volume_m3)
        FROM (SELECT meter_id, day, volume_m3, 1 AS sign, method = 'metered' OR (flags && '{gap}' AND NOT flags && '{reset}') AS measured FROM new_days UNION ALL SELECT meter_id, day, volume_m3, -1 AS sign, method = 'metered' OR (flags && '{gap}' AND NOT flags && '{reset}') AS measured FROM old_days) d
        GROUP BY 1, 2
        ON CONFLICT (meter_id, month) DO UPDATE SET
            days = m.days + EXCLUDED.days,
            measured_days = m.measured_days + EXCLUDED.measured_days,
            measured_m3 = m.measured_m3 + EXCLUDED.measured_m3,
            volume_m3 = m.volume_m3 + EXCLUDED.volume_m3;
    ELSE
        INSERT INTO monthly_volumes AS m (meter_id, month, days, measured_days, measured_m3, volume_m3)
        SELECT meter_id, date_trunc('month', day)::date, sum(sign), sum(sign * measured::integer),
               sum(CASE WHEN measured THEN sign * volume_m3 ELSE 0 END), sum(sign * volume_m3)
        FROM (SELECT meter_id, day, volume_m3, -1 AS sign, method = 'metered' OR (flags && '{gap}' AND NOT flags && '{reset}') AS measured FROM old_days) d
        GROUP BY 1, 2
        ON CONFLICT (meter_id, month) DO UPDATE SET
            days = m.days + EXCLUDED.days,
            measured_days = m.measured_days + EXCLUDED.measured_days,
            measured_m3 = m.measured_m3 + EXCLUDED.measured_m3,
            volume_m3 = m.volume_m3 + EXCLUDED.volume_m3;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER monthly_volumes_insert AFTER INSERT ON daily_volumes
    REFERENCING NEW TABLE AS new_days FOR EACH STATEMENT EXECUTE FUNCTION monthly_volumes_apply();
CREATE TRIGGER monthly_volumes_update AFTER UPDATE ON daily_volumes
    REFERENCING OLD TABLE AS old_days NEW TABLE AS new_days FOR EACH STATEMENT EXECUTE FUNCTION monthly_volumes_apply();
CREATE TRIGGER monthly_volumes_delete AFTER DELETE ON daily_volumes
    REFERENCING OLD TABLE AS old_days FOR EACH STATEMENT EXECUTE FUNCTION monthly_volumes_apply();

INSERT INTO monthly_volumes (meter_id, month, days, measured_days, measured_m3, volume_m3)
SELECT meter_id, date_trunc('month', day)::date, count(*),
       count(*) FILTER (WHERE method = 'metered' OR (flags && '{gap}' AND NOT flags && '{reset}')),
       coalesce(sum(volume_m3) FILTER (WHERE method = 'metered' OR (flags && '{gap}' AND NOT flags && '{reset}')), 0),
       sum(volume_m3)
FROM daily_volumes GROUP BY 1, 2;
