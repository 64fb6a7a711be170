-- Edited by hand: WITHOUT ROWID kept on both tables (Drizzle cannot say it); sum, min and max
-- become NUMERIC, which keeps a whole value in an integer's few bytes (see schema.ts).
CREATE TABLE `__new_rollups_device` (
	`level` integer NOT NULL,
	`start_minute` integer NOT NULL,
	`metric` text NOT NULL,
	`count` integer NOT NULL,
	`sum` numeric NOT NULL,
	`min` numeric NOT NULL,
	`max` numeric NOT NULL,
	`device_id` text NOT NULL,
	PRIMARY KEY(`level`, `start_minute`, `device_id`, `metric`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_rollups_device`("level", "start_minute", "metric", "count", "sum", "min", "max", "device_id") SELECT "level", "start_minute", "metric", "count", "sum", "min", "max", "device_id" FROM `rollups_device`;--> statement-breakpoint
DROP TABLE `rollups_device`;--> statement-breakpoint
ALTER TABLE `__new_rollups_device` RENAME TO `rollups_device`;--> statement-breakpoint
CREATE INDEX `rollups_device_by_device` ON `rollups_device` (`device_id`,`level`,`start_minute`);--> statement-breakpoint
CREATE TABLE `__new_rollups_metric` (
	`level` integer NOT NULL,
	`start_minute` integer NOT NULL,
	`metric` text NOT NULL,
	`count` integer NOT NULL,
	`sum` numeric NOT NULL,
	`min` numeric NOT NULL,
	`max` numeric NOT NULL,
	PRIMARY KEY(`level`, `start_minute`, `metric`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_rollups_metric`("level", "start_minute", "metric", "count", "sum", "min", "max") SELECT "level", "start_minute", "metric", "count", "sum", "min", "max" FROM `rollups_metric`;--> statement-breakpoint
DROP TABLE `rollups_metric`;--> statement-breakpoint
ALTER TABLE `__new_rollups_metric` RENAME TO `rollups_metric`;