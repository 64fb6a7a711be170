-- Acknowledgements (POST /alerts/:id/ack): who, when and why; null while nobody has.
ALTER TABLE alerts ADD COLUMN acked_by text;
--> statement-breakpoint
ALTER TABLE alerts ADD COLUMN acked_at bigint;
--> statement-breakpoint
ALTER TABLE alerts ADD COLUMN ack_note text;
