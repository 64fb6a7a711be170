-- Edited by hand: WITHOUT ROWID.
CREATE TABLE `rollup_dirty_series` (
	`hour` integer NOT NULL,
	`device_id` text NOT NULL,
	`metric` text NOT NULL,
	PRIMARY KEY(`hour`, `device_id`, `metric`)
) WITHOUT ROWID;
