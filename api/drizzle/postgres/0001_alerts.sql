-- Alert history: every transition of the alerts stream, stored by consumer-store's `history`
-- group; the alert id is the primary key (storing is idempotent). Not partitioned: transitions
-- are few next to readings, and retention deletes by the ts index.
CREATE TABLE alerts (
  id text COLLATE "C" PRIMARY KEY,
  rule_id text COLLATE "C" NOT NULL,
  device_id text COLLATE "C" NOT NULL,
  metric text COLLATE "C" NOT NULL,
  value double precision NOT NULL,
  threshold double precision NOT NULL,
  state text NOT NULL,
  severity text NOT NULL,
  ts bigint NOT NULL,
  reading_id text NOT NULL,
  note text,
  silenced boolean NOT NULL,
  quiet boolean NOT NULL,
  raised_at bigint NOT NULL
);
--> statement-breakpoint
CREATE INDEX alerts_ts_id ON alerts (ts, id);
--> statement-breakpoint
CREATE INDEX alerts_device_ts_id ON alerts (device_id, ts, id);
