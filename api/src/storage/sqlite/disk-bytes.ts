import { statSync } from 'node:fs';
import type { DiskBytes } from '../port.ts';

/** A file's size in bytes (0 when there is none: no WAL yet, or the file deleted). */
export function fileBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** What a database file takes: the file, and its write-ahead log beside it (`<path>-wal`). */
export function sqliteDiskBytes(path: string | undefined): DiskBytes {
  return path ? { data: fileBytes(path), wal: fileBytes(`${path}-wal`) } : { data: 0, wal: 0 };
}
