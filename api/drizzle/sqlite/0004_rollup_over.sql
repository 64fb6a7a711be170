CREATE TABLE `rollup_over` (
	`level` integer NOT NULL,
	`start_minute` integer NOT NULL,
	`device_id` text NOT NULL,
	`metric` text NOT NULL,
	`threshold` real NOT NULL,
	`above` integer NOT NULL,
	PRIMARY KEY(`level`, `start_minute`, `device_id`, `metric`, `threshold`)
) WITHOUT ROWID;
-- WITHOUT ROWID added by hand.
