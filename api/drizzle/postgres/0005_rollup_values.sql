-- How many readings of a metric had each value, per hour and day (see src/storage/rollups.ts).
CREATE TABLE rollup_values (
  level integer NOT NULL,
  start_minute bigint NOT NULL,
  metric text COLLATE "C" NOT NULL,
  value double precision NOT NULL,
  count bigint NOT NULL,
  PRIMARY KEY (level, start_minute, metric, value)
);
