CREATE TABLE `rollup_values` (
	`level` integer NOT NULL,
	`start_minute` integer NOT NULL,
	`metric` text NOT NULL,
	`value` real NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`level`, `start_minute`, `metric`, `value`)
) WITHOUT ROWID;
-- WITHOUT ROWID added by hand.
