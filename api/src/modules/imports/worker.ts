import { rm } from 'node:fs/promises';
import {
  eventIdFor,
  type Logger,
  publishReadings,
  readGroups,
  type Reading,
  readingStreams,
  type ReadingStreams,
  readReadingFile,
  type ReplayItem,
} from 'core';
import type Redis from 'ioredis';
import { ACTIVE_STATES, type ImportJob, type ImportJobs, KEPT_BAD_ROWS } from './jobs.ts';
import { sweepUploads } from './upload-file.ts';

/** Rows a job reads in one turn before the next job has its turn: what keeps imports fair. */
const TURN_ROWS = 5_000;
/** Readings per XADD script call: each call is atomic (all of them or none). */
const PUBLISH_CHUNK = 1_000;

export interface ImportWorkerOptions {
  redis: Redis;
  jobs: ImportJobs;
  stream: string;
  /** Its partitions (STREAM_PARTITIONS), the readings' destinations: default the stream alone. */
  streams?: ReadingStreams;
  /** This API instance (`host:port`): it imports only the jobs it holds the files of. */
  owner: string;
  /** Readings the stream's groups have not finished with, past which imports wait (backpressure). */
  maxBacklog: number;
  logger: Logger;
  /** Readings per stream entry (FRAME_READINGS): the backlog is counted in entries, each a frame. */
  frameReadings?: number;
  /** Where uploads are kept (IMPORT_DIR): files no active job holds are swept from it now and then. */
  uploadsDir?: string;
}

/** How often upload files left behind (a kill mid-upload) are looked for. */
const SWEEP_EVERY_MS = 5 * 60_000;

/** A job dies with its worker this many times, and fails rather than take the process down again. */
const MAX_CRASHES = 2;
/** How long /health names an import that failed. */
const FAILURE_SHOWN_MS = 15 * 60_000;

/** Why a job cannot go on (its file unreadable, refused, corrupt): it fails; only Redis being away is waited out. */
class JobFailed extends Error {
  override readonly name = 'JobFailed';
}

interface OpenJob {
  job: ImportJob;
  rows: AsyncGenerator<ReplayItem>;
  progress: { bytes: number };
}

/**
 * Imports the uploaded files of this instance through the readings stream, in turns of
 * TURN_ROWS rows per job, round robin: a small import submitted behind a big one is done after
 * a few turns, not after the big one. Each turn's readings are in Redis before the job's
 * `committedLine` moves past them, and a row without an id gets one made from the job and its
 * line: after a crash the job goes on from `committedLine`, and rows read twice keep their ids
 * (stored once). While the stream's groups lag more than `maxBacklog` readings (counted as
 * entries, each taken for a full frame), it waits.
 */
export function startImportWorker({
  redis,
  jobs,
  stream,
  streams = readingStreams(stream),
  owner,
  maxBacklog,
  logger,
  frameReadings,
  uploadsDir,
}: ImportWorkerOptions) {
  const backlogEntries = Math.max(1, Math.ceil(maxBacklog / (frameReadings ?? 1)));
  const open = new Map<string, OpenJob>();
  /** Jobs this process has taken up: one found running that is not among them was left by a worker that died. */
  const takenHere = new Set<string>();
  let lastFailure: { id: string; reason: string; atMs: number } | undefined;
  let stopped = false;
  let wake: (() => void) | undefined;
  let loop: Promise<void> = Promise.resolve();

  const openJob = (job: ImportJob): OpenJob => {
    const progress = { bytes: 0 };
    const rows = readReadingFile(job.file, { progress, mintId: (tsMs, line) => eventIdFor(tsMs, `${job.id}:${line}`) });
    return { job, rows, progress };
  };

  const finish = async (entry: OpenJob, fields: Partial<ImportJob> & Pick<ImportJob, 'state'>) => {
    open.delete(entry.job.id);
    await entry.rows.return(undefined);
    // Known to /health before the job reads as failed: whoever sees it failed sees it named.
    if (fields.state === 'failed')
      lastFailure = { id: entry.job.id, reason: fields.error ?? 'failed', atMs: Date.now() };
    await jobs.finish(entry.job.id, { ...fields, finishedAt: Date.now() });
    await rm(entry.job.file, { force: true });
    logger.info('import_finished', {
      id: entry.job.id,
      state: fields.state,
      rows: entry.job.rowsRead,
      published: entry.job.published,
      bad: entry.job.badRows,
    });
  };

  /** One turn of one job: up to TURN_ROWS rows into the stream, then its progress saved. */
  const turn = async (entry: OpenJob): Promise<void> => {
    const { job } = entry;
    const readings: Reading[] = [];
    let lastLine = job.committedLine;
    let read = 0;
    let ended = false;
    while (read < TURN_ROWS) {
      const next = await entry.rows.next().catch((error: Error) => {
        // Whatever reading the file throws (gone, unreadable, a corrupt or bomb gzip) is the job's end, not Redis's.
        throw new JobFailed(error.name === 'FileRefused' ? error.message : `cannot read the upload: ${error.message}`, {
          cause: error,
        });
      });
      if (next.done) {
        ended = true;
        break;
      }
      const item = next.value;
      // Resuming: what was committed before the restart is already in the stream.
      if (item.line <= job.committedLine) continue;
      read += 1;
      lastLine = item.line;
      if ('reading' in item) readings.push(item.reading);
      else {
        job.badRows += 1;
        if (job.badSamples.length < KEPT_BAD_ROWS) job.badSamples.push({ line: item.line, reason: item.error });
      }
    }
    for (let i = 0; i < readings.length; i += PUBLISH_CHUNK)
      await publishReadings(redis, streams, readings.slice(i, i + PUBLISH_CHUNK), frameReadings, job.alerts);
    job.rowsRead += read;
    job.published += readings.length;
    job.committedLine = lastLine;
    job.bytesRead = Math.max(job.bytesRead, Math.min(job.bytes, entry.progress.bytes));
    await jobs.update(job.id, {
      rowsRead: job.rowsRead,
      published: job.published,
      badRows: job.badRows,
      badSamples: job.badSamples,
      committedLine: job.committedLine,
      bytesRead: job.bytesRead,
    });
    if (ended) await finish(entry, { state: 'done', bytesRead: job.bytes });
  };

  /** The most a group has left, over the partitions. */
  const backlog = async (): Promise<number> => {
    const left = new Map<string, number>();
    for (const partition of streams.streams)
      for (const group of await readGroups(redis, partition))
        left.set(group.name, (left.get(group.name) ?? 0) + (group.lag ?? 0) + group.pending);
    return Math.max(0, ...left.values());
  };

  let sweptAt = Number.NEGATIVE_INFINITY;
  const sweep = async () => {
    if (!uploadsDir || Date.now() - sweptAt < SWEEP_EVERY_MS) return;
    sweptAt = Date.now();
    const removed = await sweepUploads(uploadsDir, async (id) =>
      ACTIVE_STATES.has((await jobs.get(id))?.state ?? 'done'),
    );
    if (removed.length > 0)
      logger.info('uploads_swept', {
        files: removed.length,
        hint: 'upload files no import holds (a stop in the middle of an upload)',
      });
  };

  const run = async () => {
    let failuresInARow = 0;
    while (!stopped) {
      try {
        await sweep();
        const active = await jobs.active(owner);
        failuresInARow = 0;
        for (const job of active) {
          if (open.has(job.id)) continue;
          if (job.cancelRequested) {
            await jobs.finish(job.id, { state: 'cancelled', finishedAt: Date.now() });
            await rm(job.file, { force: true });
            continue;
          }
          if (job.state === 'running' && !takenHere.has(job.id) && (await jobs.crashed(job.id)) >= MAX_CRASHES) {
            const reason = `the API stopped ${MAX_CRASHES} times while importing this file; not taken up again`;
            lastFailure = { id: job.id, reason, atMs: Date.now() };
            await jobs.finish(job.id, { state: 'failed', error: reason, finishedAt: Date.now() });
            await rm(job.file, { force: true });
            logger.error('import_finished', { id: job.id, state: 'failed', error: reason });
            continue;
          }
          takenHere.add(job.id);
          const startedAt = job.startedAt ?? Date.now();
          await jobs.update(job.id, { state: 'running', startedAt });
          open.set(job.id, openJob({ ...job, state: 'running', startedAt }));
        }
        if (open.size === 0) {
          await new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, 1_000);
          });
          continue;
        }
        if ((await backlog()) > backlogEntries) {
          await Bun.sleep(200);
          continue;
        }
        for (const entry of [...open.values()]) {
          if (stopped) break;
          if (await jobs.cancelRequested(entry.job.id)) {
            await finish(entry, { state: 'cancelled' });
            continue;
          }
          try {
            await turn(entry);
          } catch (error) {
            // A file that cannot be read (deleted, unreadable, refused): the job fails; others go on.
            if (error instanceof JobFailed) await finish(entry, { state: 'failed', error: error.message });
            else throw error;
          }
        }
      } catch (error) {
        // Redis away, most likely: the jobs' progress is in Redis, so wait and go on from it. Said
        // once it lasts: the first look, as the API starts, can come before its connection is up.
        failuresInARow += 1;
        if (failuresInARow === 2) logger.warn('import_worker_waiting', { error: (error as Error).message });
        for (const entry of open.values()) await entry.rows.return(undefined);
        open.clear();
        await Bun.sleep(1_000);
      }
    }
  };
  loop = run();

  return {
    /** A job was queued: start it now rather than at the next poll. */
    notify() {
      wake?.();
    },
    /** What /health should say: an import that failed lately. */
    problems(nowMs = Date.now()): string[] {
      if (!lastFailure || nowMs - lastFailure.atMs > FAILURE_SHOWN_MS) return [];
      return [
        `import ${lastFailure.id} failed ${Math.round((nowMs - lastFailure.atMs) / 1_000)} s ago: ${lastFailure.reason} (GET /imports/${lastFailure.id})`,
      ];
    },
    async stop(): Promise<void> {
      stopped = true;
      wake?.();
      await loop;
      for (const entry of open.values()) {
        await entry.rows.return(undefined);
        // Stopped on purpose, not died: the next start takes it up without counting a crash.
        await jobs.update(entry.job.id, { state: 'queued' }).catch(() => {});
      }
    },
  };
}

export type ImportWorker = ReturnType<typeof startImportWorker>;
