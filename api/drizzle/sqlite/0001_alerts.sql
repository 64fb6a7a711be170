CREATE TABLE `alerts` (
	`id` text PRIMARY KEY NOT NULL,
	`rule_id` text NOT NULL,
	`device_id` text NOT NULL,
	`metric` text NOT NULL,
	`value` real NOT NULL,
	`threshold` real NOT NULL,
	`state` text NOT NULL,
	`severity` text NOT NULL,
	`ts` integer NOT NULL,
	`reading_id` text NOT NULL,
	`note` text,
	`silenced` integer NOT NULL,
	`quiet` integer NOT NULL,
	`raised_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `alerts_ts_id` ON `alerts` (`ts`,`id`);--> statement-breakpoint
CREATE INDEX `alerts_device_ts_id` ON `alerts` (`device_id`,`ts`,`id`);