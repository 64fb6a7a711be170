-- Edited by hand: WITHOUT ROWID (chunk_id_days, chunk_text_ids).
CREATE TABLE `chunk_id_days` (
	`id_day` integer NOT NULL,
	`chunk` integer NOT NULL,
	PRIMARY KEY(`id_day`, `chunk`)

) WITHOUT ROWID;
--> statement-breakpoint
CREATE INDEX `chunk_id_days_chunk` ON `chunk_id_days` (`chunk`);--> statement-breakpoint
CREATE TABLE `chunk_text_ids` (
	`id` text PRIMARY KEY NOT NULL,
	`chunk` integer NOT NULL

) WITHOUT ROWID;
--> statement-breakpoint
CREATE INDEX `chunk_text_ids_chunk` ON `chunk_text_ids` (`chunk`);--> statement-breakpoint
CREATE TABLE `reading_chunks` (
	`chunk` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`written` integer DEFAULT 0 NOT NULL,
	`device` integer NOT NULL,
	`metric` integer NOT NULL,
	`day` integer NOT NULL,
	`first_ts` integer NOT NULL,
	`last_ts` integer NOT NULL,
	`count` integer NOT NULL,
	`ids` blob NOT NULL,
	`body` blob NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `reading_chunks_series_day` ON `reading_chunks` (`device`,`metric`,`day`);--> statement-breakpoint
CREATE INDEX `reading_chunks_day` ON `reading_chunks` (`day`);