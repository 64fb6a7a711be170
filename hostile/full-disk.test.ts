import { describe, expect, it } from 'bun:test';
import { existsSync } from 'node:fs';
import { readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { uniqueName, waitFor } from 'core/testing';
import { importJobs } from '../api/src/modules/imports/jobs.ts';
import { sweepUploads } from '../api/src/modules/imports/upload-file.ts';
import { importsApi, useTestGround } from './support.ts';

// Hostile upload: larger than the import folder's free space. ENOSPC escaped the handler and
// killed the API, and the partial file it left made every later upload fail. The folder here is
// a 24 MiB tmpfs this test mounts (root only, as CI runs).
const canMount = process.getuid?.() === 0 && process.platform === 'linux';
const ground = useTestGround(
  'disk',
  canMount
    ? {
        prepare: (dir) => Bun.$`mount -t tmpfs -o size=24m tmpfs ${dir}`,
        release: (dir) => Bun.$`umount -l ${dir}`.nothrow(),
      }
    : {},
);

describe.skipIf(!canMount)('an import folder that fills', () => {
  it("is the upload's 507, never the process's; the partial file is removed and the next upload works", async () => {
    const { call, jobs, worker } = importsApi(ground.redis, ground.dir);
    const post = (body: BodyInit, headers: Record<string, string> = {}) => call('POST', '/imports', body, headers);
    // Sent without a length, so only writing it finds the disk full: 40 MiB into 24.
    const piece = new Uint8Array(1024 * 1024).fill(0x61);
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 40; i++) controller.enqueue(piece);
        controller.close();
      },
    });
    const filled = await post(chunked);
    expect(filled.status).toBe(507);
    expect(filled.body.error).toBe('insufficient_storage');
    expect(filled.body.message).toContain('the import folder filled after');
    expect(await readdir(ground.dir)).toEqual([]);

    // Declared too large: refused before a byte is written.
    const declared = await post(new Uint8Array(64), { 'content-length': String(30 * 1024 * 1024) });
    expect(declared.status).toBe(507);
    expect(declared.body.message).toContain('the upload is 31457280 bytes');

    const small = await post(
      `deviceId,metric,value,unit,ts\n${Array.from({ length: 100 }, (_, i) => `d-1,kwh,${i},kWh,${1_764_000_000_000 + i}`).join('\n')}\n`,
    );
    expect(small.status).toBe(202);
    await waitFor(async () => (await jobs.get(small.body.id))?.state === 'done', { what: 'the small import done' });
    await worker.stop();
  });

  it('sweeps upload files no active job holds once they are idle', async () => {
    const jobs = importJobs(ground.redis, uniqueName('imports'));
    const leftover = join(ground.dir, 'left-by-a-kill.upload');
    const young = join(ground.dir, 'still-arriving.upload');
    await writeFile(leftover, 'x');
    await writeFile(young, 'x');
    const past = new Date(Date.now() - 10 * 60_000);
    await utimes(leftover, past, past);
    const removed = await sweepUploads(ground.dir, async (id) => (await jobs.get(id)) !== undefined);
    expect(removed).toEqual([leftover]);
    expect(existsSync(young)).toBe(true);
    await rm(young);
  });
});
