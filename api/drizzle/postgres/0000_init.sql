-- Hand-written (drizzle-kit cannot express declarative partitioning); applied at boot under an
-- advisory lock by src/storage/postgres/migrate.ts.
--
-- readings is partitioned by day of `ts` (epoch ms), so that retention drops whole partitions.
-- A partitioned table's unique keys must include the partition key, so the reading id alone
-- cannot be unique in it: reading_ids holds every stored id once (its primary key is the
-- idempotency check) with the ts that finds its row. `seq` orders the change feed (SSE,
-- Last-Event-ID) across every instance: writers take one advisory lock per batch, so sequence
-- order is commit order and a reader of "seq > n" never skips a row committed late.
-- Names and ids compare byte by byte (COLLATE "C"), as in SQLite: the same order everywhere, and
-- index maintenance without locale-aware string comparison (most of an insert's cost otherwise).
CREATE SEQUENCE readings_seq;
--> statement-breakpoint
CREATE TABLE reading_ids (
  id text COLLATE "C" PRIMARY KEY,
  ts bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE readings (
  seq bigint NOT NULL DEFAULT nextval('readings_seq'),
  id text COLLATE "C" NOT NULL,
  device_id text COLLATE "C" NOT NULL,
  metric text COLLATE "C" NOT NULL,
  value double precision NOT NULL,
  unit text NOT NULL,
  ts bigint NOT NULL,
  stored_at bigint NOT NULL
) PARTITION BY RANGE (ts);
--> statement-breakpoint
CREATE INDEX readings_ts_id ON readings (ts, id);
--> statement-breakpoint
CREATE INDEX readings_device_ts_id ON readings (device_id, ts, id);
--> statement-breakpoint
CREATE INDEX readings_by_seq ON readings (seq);
