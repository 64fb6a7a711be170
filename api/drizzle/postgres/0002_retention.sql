-- Retention removes reading ids by time, a chunk at a time, before it drops a day's partition:
-- reading_ids is not partitioned (its key is the id alone), so it needs its own index on ts.
CREATE INDEX reading_ids_ts ON reading_ids (ts);
