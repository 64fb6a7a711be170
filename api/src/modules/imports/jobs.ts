import type { AlertMode } from 'core';
import { importKeys, replicated } from 'core';
import type Redis from 'ioredis';

export type ImportState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
export const ACTIVE_STATES: ReadonlySet<ImportState> = new Set(['queued', 'running']);

/** Refused rows kept with their line and reason; the rest are only counted. */
export const KEPT_BAD_ROWS = 20;

/** An import job as kept in Redis: survives an API restart, seen by every API instance. */
export interface ImportJob {
  id: string;
  state: ImportState;
  /** The API instance holding the file (`host:port`): only it imports the job. */
  owner: string;
  file: string;
  /** The upload's size on disk. */
  bytes: number;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  bytesRead: number;
  rowsRead: number;
  published: number;
  badRows: number;
  badSamples: Array<{ line: number; reason: string }>;
  /** Every line up to this one is in the stream: a restart goes on after it. */
  committedLine: number;
  cancelRequested: boolean;
  error?: string;
  /** Times a worker died while it was reading this job: at the second, the job fails instead of being taken up again. */
  crashes?: number;
  /** What alerting does with its readings (`?alerts=`); by their age when not given. */
  alerts?: AlertMode;
}

const NUMBERS = [
  'bytes',
  'createdAt',
  'startedAt',
  'finishedAt',
  'bytesRead',
  'rowsRead',
  'published',
  'badRows',
  'committedLine',
  'crashes',
] as const;

/**
 * Jobs in Redis (keys.ts `importKeys`): a hash per job, a sorted set of every id by creation time
 * (the listing), and one of the ids still queued or running (what the worker and the admission
 * check read). `family` keeps tests' jobs apart.
 */
export function importJobs(redis: Redis, family?: string) {
  const { all: allKey, active: activeKey, job: key } = importKeys(family);
  const parse = (hash: Record<string, string>): ImportJob | undefined => {
    if (!hash.id) return undefined;
    const job: Record<string, unknown> = {
      ...hash,
      badSamples: JSON.parse(hash.badSamples ?? '[]'),
      cancelRequested: hash.cancelRequested === '1',
    };
    for (const name of NUMBERS) if (hash[name] !== undefined) job[name] = Number(hash[name]);
    return job as unknown as ImportJob;
  };
  const flatten = (fields: Partial<ImportJob>) =>
    Object.fromEntries(
      Object.entries(fields)
        .filter(([, value]) => value !== undefined)
        .map(([name, value]) => [
          name,
          name === 'badSamples'
            ? JSON.stringify(value)
            : name === 'cancelRequested'
              ? value
                ? '1'
                : '0'
              : String(value),
        ]),
    );

  const hashes = async (ids: readonly string[]): Promise<ImportJob[]> => {
    if (ids.length === 0) return [];
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.hgetall(key(id));
    const replies = (await pipeline.exec()) ?? [];
    return replies
      .map(([, hash]) => parse(hash as Record<string, string>))
      .filter((job): job is ImportJob => job !== undefined);
  };

  return {
    /** Resolves once the job is on the replicas REDIS_MIN_REPLICAS asks for: the 202 must survive a failover. */
    async create(job: ImportJob): Promise<void> {
      await replicated(redis, () =>
        redis
          .multi()
          .hset(key(job.id), flatten(job))
          .zadd(allKey, job.createdAt, job.id)
          .zadd(activeKey, job.createdAt, job.id)
          .exec(),
      );
    },
    async get(id: string): Promise<ImportJob | undefined> {
      return parse(await redis.hgetall(key(id)));
    },
    async update(id: string, fields: Partial<ImportJob>): Promise<void> {
      await redis.hset(key(id), flatten(fields));
    },
    /** Its last state (done, failed, cancelled): no longer active. */
    async finish(id: string, fields: Partial<ImportJob> & { state: ImportState }): Promise<void> {
      await redis.multi().hset(key(id), flatten(fields)).zrem(activeKey, id).exec();
    },
    /** Counts a death of the worker that was reading it; resolves to the count. */
    async crashed(id: string): Promise<number> {
      return redis.hincrby(key(id), 'crashes', 1);
    },
    async cancelRequested(id: string): Promise<boolean> {
      return (await redis.hget(key(id), 'cancelRequested')) === '1';
    },
    /** Newest first. */
    async list(limit = 100): Promise<ImportJob[]> {
      return hashes(await redis.zrevrange(allKey, 0, limit - 1));
    },
    /** The jobs an instance still has to do, oldest first. */
    async active(owner: string): Promise<ImportJob[]> {
      return (await hashes(await redis.zrange(activeKey, '0', '-1'))).filter(
        (job) => job.owner === owner && ACTIVE_STATES.has(job.state),
      );
    },
  };
}

export type ImportJobs = ReturnType<typeof importJobs>;

/** A job as GET /imports/:id shows it: progress, rate, time left, time queued and spent. */
export function importView(job: ImportJob, nowMs = Date.now()) {
  const processingMs = job.startedAt === undefined ? 0 : (job.finishedAt ?? nowMs) - job.startedAt;
  const seconds = processingMs / 1_000;
  const bytesPerSecond = seconds > 0 ? job.bytesRead / seconds : 0;
  return {
    id: job.id,
    state: job.cancelRequested && ACTIVE_STATES.has(job.state) ? 'cancelling' : job.state,
    bytes: job.bytes,
    bytesRead: job.bytesRead,
    rowsRead: job.rowsRead,
    published: job.published,
    badRows: job.badRows,
    badSamples: job.badSamples,
    ratePerSecond: seconds > 0 ? Math.round(job.rowsRead / seconds) : 0,
    etaSeconds:
      job.state === 'running' && bytesPerSecond > 0 ? Math.round((job.bytes - job.bytesRead) / bytesPerSecond) : null,
    queuedMs: (job.startedAt ?? (ACTIVE_STATES.has(job.state) ? nowMs : (job.finishedAt ?? nowMs))) - job.createdAt,
    processingMs,
    createdAt: new Date(job.createdAt).toISOString(),
    startedAt: job.startedAt === undefined ? null : new Date(job.startedAt).toISOString(),
    finishedAt: job.finishedAt === undefined ? null : new Date(job.finishedAt).toISOString(),
    alerts: job.alerts ?? 'by age',
    ...(job.error ? { error: job.error } : {}),
  };
}
