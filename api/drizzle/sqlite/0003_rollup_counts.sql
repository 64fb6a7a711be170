-- Edited by hand: WITHOUT ROWID on both tables.
CREATE TABLE `rollup_over` (
	`level` integer NOT NULL,
	`start_minute` integer NOT NULL,
	`device_id` text NOT NULL,
	`metric` text NOT NULL,
	`threshold` real NOT NULL,
	`above` integer NOT NULL,
	PRIMARY KEY(`level`, `start_minute`, `device_id`, `metric`, `threshold`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE TABLE `rollup_values` (
	`level` integer NOT NULL,
	`start_minute` integer NOT NULL,
	`metric` text NOT NULL,
	`value` real NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`level`, `start_minute`, `metric`, `value`)
) WITHOUT ROWID;
--> statement-breakpoint
DROP INDEX `readings_ts_id`;--> statement-breakpoint
CREATE INDEX `readings_ts` ON `readings` (`ts`);