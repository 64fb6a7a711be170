-- Every device id that has readings, once (see src/storage/rollup-sql.ts): /stats tries each
-- against a window's rollups to find the window's devices, instead of grouping all its rows. Added
-- in the transaction that stores a device's first readings; never removed (a device whose
-- readings and rollups are gone is tried and found in no window). Filled here from the rollups,
-- skipping through their device index: a seek per device.
CREATE TABLE devices (device_id text COLLATE "C" PRIMARY KEY);
--> statement-breakpoint
INSERT INTO devices (device_id)
WITH RECURSIVE walk(id) AS (
  SELECT min(device_id) FROM rollups_device
  UNION ALL
  SELECT (SELECT min(r.device_id) FROM rollups_device r WHERE r.device_id > w.id) FROM walk w WHERE w.id IS NOT NULL
)
SELECT id FROM walk WHERE id IS NOT NULL;
--> statement-breakpoint
-- A page of devices' counts above a threshold, per hour and day row, read by device (see
-- deviceRows in src/storage/rollup-sql.ts): a range per device and level, not a lookup per row.
CREATE INDEX rollup_over_by_device ON rollup_over (device_id, threshold, level, start_minute);
