-- Edited by hand: the readings move into the compact table (ids as 16 bytes where they are
-- canonical UUIDs, names as keys, the lead time for stored_at) in their order, so the change
-- feed's sequence goes on; the indexes are built after the copy; the view gives reads the
-- columns they had (and the id as stored, which the API's own reads convert faster).
CREATE TABLE `names` (
	`key` integer PRIMARY KEY NOT NULL,
	`name` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `names_name_unique` ON `names` (`name`);--> statement-breakpoint
CREATE TABLE `reading_rows` (
	`seq` integer PRIMARY KEY NOT NULL,
	`id` blob NOT NULL,
	`device` integer NOT NULL,
	`metric` integer NOT NULL,
	`value` real NOT NULL,
	`unit` integer NOT NULL,
	`ts` integer NOT NULL,
	`lead` integer NOT NULL
);
--> statement-breakpoint
INSERT INTO `names` (`name`) SELECT `device_id` FROM `readings` UNION SELECT `metric` FROM `readings` UNION SELECT `unit` FROM `readings`;--> statement-breakpoint
INSERT INTO `reading_rows` (`seq`, `id`, `device`, `metric`, `value`, `unit`, `ts`, `lead`)
	SELECT r.rowid, CASE WHEN r.id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]' THEN unhex(replace(r.id, '-', '')) ELSE r.id END,
		d.key, m.key, r.value, u.key, r.ts, r.stored_at - r.ts
	FROM `readings` r JOIN `names` d ON d.name = r.device_id JOIN `names` m ON m.name = r.metric JOIN `names` u ON u.name = r.unit
	ORDER BY r.rowid;--> statement-breakpoint
DROP TABLE `readings`;--> statement-breakpoint
CREATE UNIQUE INDEX `reading_rows_id` ON `reading_rows` (`id`);--> statement-breakpoint
CREATE INDEX `reading_rows_ts` ON `reading_rows` (`ts`);--> statement-breakpoint
CREATE INDEX `reading_rows_device_ts` ON `reading_rows` (`device`,`ts`);--> statement-breakpoint
CREATE VIEW `readings` AS
	SELECT r.seq AS seq, r.id AS stored_id,
		CASE WHEN typeof(r.id) = 'blob' THEN lower(substr(hex(r.id), 1, 8) || '-' || substr(hex(r.id), 9, 4) || '-' || substr(hex(r.id), 13, 4) || '-' || substr(hex(r.id), 17, 4) || '-' || substr(hex(r.id), 21)) ELSE r.id END AS id,
		d.name AS device_id, m.name AS metric, r.value AS value, u.name AS unit, r.ts AS ts, r.ts + r.lead AS stored_at
	FROM `reading_rows` r JOIN `names` d ON d.key = r.device JOIN `names` m ON m.key = r.metric JOIN `names` u ON u.key = r.unit;
