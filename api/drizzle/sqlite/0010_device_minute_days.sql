CREATE TABLE `device_minute_days` (
	`day` integer PRIMARY KEY NOT NULL,
	`from_raw` integer NOT NULL,
	`cleared` integer DEFAULT 0 NOT NULL
);
