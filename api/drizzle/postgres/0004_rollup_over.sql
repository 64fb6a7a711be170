-- Readings above a threshold per hour or day rollup row, worked out when the row is derived, for
-- the thresholds /stats is asked about by default (see src/storage/rollups.ts).
CREATE TABLE rollup_over (
  level integer NOT NULL,
  start_minute bigint NOT NULL,
  device_id text COLLATE "C" NOT NULL,
  metric text COLLATE "C" NOT NULL,
  threshold double precision NOT NULL,
  above bigint NOT NULL,
  PRIMARY KEY (level, start_minute, device_id, metric, threshold)
);
