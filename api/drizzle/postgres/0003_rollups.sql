-- Rollups (see src/storage/rollups.ts): per device, metric and minute, written in the insert's
-- transaction; per metric for all devices; hours and days derived from the minutes by
-- compaction once `rollup_dirty` says an hour changed. `start_minute` is epoch minutes, `level`
-- minutes (1, 60, 1440). Not partitioned: retention keeps rollups after their readings are gone.
CREATE TABLE rollups_device (
  level integer NOT NULL,
  start_minute bigint NOT NULL,
  device_id text COLLATE "C" NOT NULL,
  metric text COLLATE "C" NOT NULL,
  count bigint NOT NULL,
  sum double precision NOT NULL,
  min double precision NOT NULL,
  max double precision NOT NULL,
  PRIMARY KEY (level, start_minute, device_id, metric)
);
--> statement-breakpoint
CREATE INDEX rollups_device_by_device ON rollups_device (device_id, level, start_minute);
--> statement-breakpoint
CREATE TABLE rollups_metric (
  level integer NOT NULL,
  start_minute bigint NOT NULL,
  metric text COLLATE "C" NOT NULL,
  count bigint NOT NULL,
  sum double precision NOT NULL,
  min double precision NOT NULL,
  max double precision NOT NULL,
  PRIMARY KEY (level, start_minute, metric)
);
--> statement-breakpoint
CREATE TABLE rollup_dirty (hour bigint PRIMARY KEY);
--> statement-breakpoint
-- The readings stored before this migration; their hours are compacted once the API runs.
INSERT INTO rollups_device (level, start_minute, device_id, metric, count, sum, min, max)
SELECT 1, ts / 60000, device_id, metric, count(*), sum(value), min(value), max(value) FROM readings GROUP BY 2, 3, 4;
--> statement-breakpoint
INSERT INTO rollups_metric (level, start_minute, metric, count, sum, min, max)
SELECT 1, ts / 60000, metric, count(*), sum(value), min(value), max(value) FROM readings GROUP BY 2, 3;
--> statement-breakpoint
INSERT INTO rollup_dirty (hour) SELECT DISTINCT ts / 3600000 FROM readings;
