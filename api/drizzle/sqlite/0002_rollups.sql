CREATE TABLE `rollup_dirty` (
	`hour` integer PRIMARY KEY NOT NULL
);
--> statement-breakpoint
CREATE TABLE `rollups_device` (
	`level` integer NOT NULL,
	`start_minute` integer NOT NULL,
	`metric` text NOT NULL,
	`count` integer NOT NULL,
	`sum` real NOT NULL,
	`min` real NOT NULL,
	`max` real NOT NULL,
	`device_id` text NOT NULL,
	PRIMARY KEY(`level`, `start_minute`, `device_id`, `metric`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE INDEX `rollups_device_by_device` ON `rollups_device` (`device_id`,`level`,`start_minute`);--> statement-breakpoint
CREATE TABLE `rollups_metric` (
	`level` integer NOT NULL,
	`start_minute` integer NOT NULL,
	`metric` text NOT NULL,
	`count` integer NOT NULL,
	`sum` real NOT NULL,
	`min` real NOT NULL,
	`max` real NOT NULL,
	PRIMARY KEY(`level`, `start_minute`, `metric`)
) WITHOUT ROWID;
--> statement-breakpoint
-- Edited by hand: WITHOUT ROWID above, and the rollups of the readings stored before this
-- migration below (their hours are compacted by the API once it runs).
INSERT INTO `rollups_device` (`level`, `start_minute`, `device_id`, `metric`, `count`, `sum`, `min`, `max`)
SELECT 1, `ts` / 60000, `device_id`, `metric`, count(*), sum(`value`), min(`value`), max(`value`) FROM `readings` GROUP BY 2, 3, 4;
--> statement-breakpoint
INSERT INTO `rollups_metric` (`level`, `start_minute`, `metric`, `count`, `sum`, `min`, `max`)
SELECT 1, `ts` / 60000, `metric`, count(*), sum(`value`), min(`value`), max(`value`) FROM `readings` GROUP BY 2, 3;
--> statement-breakpoint
INSERT INTO `rollup_dirty` (`hour`) SELECT DISTINCT `ts` / 3600000 FROM `readings`;
