DROP INDEX `readings_ts_id`;--> statement-breakpoint
DROP INDEX `readings_device_ts_id`;--> statement-breakpoint
CREATE INDEX `readings_ts` ON `readings` (`ts`);--> statement-breakpoint
CREATE INDEX `readings_device_ts` ON `readings` (`device_id`,`ts`);