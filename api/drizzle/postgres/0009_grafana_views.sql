-- Views for Grafana's PostgreSQL data source (grafana/ and docs/grafana.md): the per-device
-- rollups at each level, exact whatever compaction has done. Minute rows are written with the
-- readings; an hour or day row is derived later, and is stale while `rollup_dirty` names one of
-- its hours — those hours are summed from their minutes here instead, as /stats does.
-- `start_minute` is epoch minutes (ms / 60,000); `count`, `sum`, `min`, `max` as in the rollups.
CREATE VIEW readings_per_minute AS
SELECT start_minute, device_id, metric, count, sum, min, max FROM rollups_device WHERE level = 1;
--> statement-breakpoint
CREATE VIEW readings_per_hour AS
SELECT h.start_minute, h.device_id, h.metric, h.count, h.sum, h.min, h.max
FROM rollups_device h
WHERE h.level = 60 AND NOT EXISTS (SELECT 1 FROM rollup_dirty d WHERE d.hour = h.start_minute / 60)
UNION ALL
SELECT d.hour * 60, m.device_id, m.metric, sum(m.count)::bigint, sum(m.sum), min(m.min), max(m.max)
FROM rollup_dirty d
JOIN rollups_device m ON m.level = 1 AND m.start_minute >= d.hour * 60 AND m.start_minute < d.hour * 60 + 60
GROUP BY d.hour, m.device_id, m.metric;
--> statement-breakpoint
CREATE VIEW readings_per_day AS
SELECT y.start_minute, y.device_id, y.metric, y.count, y.sum, y.min, y.max
FROM rollups_device y
WHERE y.level = 1440
  AND NOT EXISTS (SELECT 1 FROM rollup_dirty d WHERE d.hour >= y.start_minute / 60 AND d.hour < y.start_minute / 60 + 24)
UNION ALL
SELECT h.start_minute / 1440 * 1440, h.device_id, h.metric, sum(h.count)::bigint, sum(h.sum), min(h.min), max(h.max)
FROM readings_per_hour h
WHERE h.start_minute / 1440 IN (SELECT DISTINCT d.hour / 24 FROM rollup_dirty d)
GROUP BY 1, h.device_id, h.metric;
