import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { stringify } from 'csv-stringify/sync';
import type { Reading } from 'core';

/** Same columns, names and `ts` form (ISO-8601 UTC) as the API's CSV export, so either replays. */
export const CSV_COLUMNS = ['id', 'deviceId', 'metric', 'value', 'unit', 'ts'] as const;

export interface CsvSink {
  append(readings: readonly Reading[]): void;
  close(): Promise<void>;
}

/** Appends readings to a CSV file, writing the header only when the file is new or empty. */
export async function openCsvSink(path: string): Promise<CsvSink> {
  const size = await stat(path).then(
    (info) => info.size,
    () => 0,
  );
  const out = createWriteStream(path, { flags: 'a' });
  if (size === 0) out.write(stringify([CSV_COLUMNS as unknown as string[]]));
  return {
    append(readings) {
      if (readings.length === 0) return;
      // One write per batch: per-row writes are what make Node-style streams slow.
      out.write(
        stringify(readings.map((r) => [r.id, r.deviceId, r.metric, r.value, r.unit, new Date(r.ts).toISOString()])),
      );
    },
    close: () =>
      new Promise((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve()))),
  };
}
