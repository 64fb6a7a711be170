ALTER TABLE `alerts` ADD `acked_by` text;--> statement-breakpoint
ALTER TABLE `alerts` ADD `acked_at` integer;--> statement-breakpoint
ALTER TABLE `alerts` ADD `ack_note` text;