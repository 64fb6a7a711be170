-- Alerts of kinds without a triggering value (absence: a device that went quiet) have no value
-- and no threshold.
ALTER TABLE alerts ALTER COLUMN value DROP NOT NULL;
--> statement-breakpoint
ALTER TABLE alerts ALTER COLUMN threshold DROP NOT NULL;
