import { open, readdir, rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiError } from '../../errors.ts';

/** Written to disk in pieces of this size at most: memory stays flat whatever the upload. */
const WRITE_BYTES = 1024 * 1024;
/** Left free beyond a declared upload, so that an import never fills the disk to its last byte. */
const SPARE_BYTES = 16 * 1024 * 1024;
/** Upload files are named so, in IMPORT_DIR. */
export const UPLOAD_SUFFIX = '.upload';

const diskFull = (error: unknown) => ['ENOSPC', 'EDQUOT', 'EFBIG'].includes((error as { code?: string }).code ?? '');

function insufficientStorage(message: string): ApiError {
  return new ApiError(
    507,
    'insufficient_storage',
    `${message}; nothing was kept (free space in IMPORT_DIR, or send a smaller file)`,
  );
}

/** Refuses (507) an upload whose declared size would not fit in the import folder's free space. */
export async function checkFreeSpace(dir: string, declaredBytes: number): Promise<void> {
  if (!Number.isFinite(declaredBytes) || declaredBytes <= 0) return;
  const { bavail, bsize } = await statfs(dir);
  const free = bavail * bsize;
  if (declaredBytes + SPARE_BYTES > free)
    throw insufficientStorage(`the upload is ${declaredBytes} bytes and the import folder has ${free} free`);
}

/**
 * Writes a body's chunks to `file`, awaiting each write so that a full disk is this upload's
 * error (507, the partial file removed), never the process's. Resolves to the bytes written.
 */
export async function writeUpload(file: string, chunks: AsyncIterable<Uint8Array>): Promise<number> {
  const handle = await open(file, 'w');
  let bytes = 0;
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (pendingBytes === 0) return;
    const piece = pending.length === 1 ? (pending[0] as Uint8Array) : Buffer.concat(pending);
    pending = [];
    pendingBytes = 0;
    await handle.write(piece);
  };
  try {
    for await (const chunk of chunks) {
      pending.push(chunk);
      pendingBytes += chunk.byteLength;
      bytes += chunk.byteLength;
      if (pendingBytes >= WRITE_BYTES) await flush();
    }
    await flush();
    await handle.close();
    return bytes;
  } catch (error) {
    await handle.close().catch(() => {});
    await rm(file, { force: true });
    if (diskFull(error)) throw insufficientStorage(`the import folder filled after ${bytes} bytes of the upload`);
    throw error;
  }
}

/**
 * Removes upload files no active job holds, untouched for `idleMs` (an upload still arriving is
 * written to all the time): what a kill in the middle of an upload, or a job's end without its
 * clean-up, left behind. Resolves to the files removed.
 */
export async function sweepUploads(
  dir: string,
  isActive: (id: string) => Promise<boolean>,
  idleMs = 60_000,
  nowMs = Date.now(),
): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.endsWith(UPLOAD_SUFFIX)) continue;
    const file = join(dir, name);
    const info = await stat(file).catch(() => undefined);
    if (!info || nowMs - info.mtimeMs < idleMs) continue;
    if (await isActive(name.slice(0, -UPLOAD_SUFFIX.length))) continue;
    await rm(file, { force: true });
    removed.push(file);
  }
  return removed;
}
