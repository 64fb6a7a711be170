CREATE TABLE `readings` (
	`id` text PRIMARY KEY NOT NULL,
	`device_id` text NOT NULL,
	`metric` text NOT NULL,
	`value` real NOT NULL,
	`unit` text NOT NULL,
	`ts` integer NOT NULL,
	`stored_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `readings_ts_id` ON `readings` (`ts`,`id`);--> statement-breakpoint
CREATE INDEX `readings_device_ts_id` ON `readings` (`device_id`,`ts`,`id`);