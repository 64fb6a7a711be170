PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_alerts` (
	`id` text PRIMARY KEY NOT NULL,
	`rule_id` text NOT NULL,
	`device_id` text NOT NULL,
	`metric` text NOT NULL,
	`value` real,
	`threshold` real,
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
INSERT INTO `__new_alerts`("id", "rule_id", "device_id", "metric", "value", "threshold", "state", "severity", "ts", "reading_id", "note", "silenced", "quiet", "raised_at") SELECT "id", "rule_id", "device_id", "metric", "value", "threshold", "state", "severity", "ts", "reading_id", "note", "silenced", "quiet", "raised_at" FROM `alerts`;--> statement-breakpoint
DROP TABLE `alerts`;--> statement-breakpoint
ALTER TABLE `__new_alerts` RENAME TO `alerts`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `alerts_ts_id` ON `alerts` (`ts`,`id`);--> statement-breakpoint
CREATE INDEX `alerts_device_ts_id` ON `alerts` (`device_id`,`ts`,`id`);