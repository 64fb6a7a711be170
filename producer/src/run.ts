import { statSync } from 'node:fs';
import { type Logger, type Reading, createSleeper, readReadingFile, readingStreamsOf } from 'core';
import type Redis from 'ioredis';
import type { ProducerConfig } from './config.ts';
import { type CsvSink, openCsvSink } from './csv-sink.ts';
import { createPublisher, type PublisherStats } from './publisher.ts';
import { replayProgressLine } from './replay.ts';
import { createSimulator } from './simulator.ts';

export interface ProducerDeps {
  config: ProducerConfig;
  /** Created with `failFast: true` (see createPublisher). */
  redis: Redis;
  logger: Logger;
}

export interface ProducerSummary extends PublisherStats {
  produced: number;
  badLines: number;
  /** Readings still buffered when shutdown gave up waiting for Redis. */
  unsent: number;
}

export interface ProducerRun {
  /** Resolves when the run ends by itself (--count reached, replay finished) or after stop(). */
  readonly done: Promise<ProducerSummary>;
  /** Stops producing, flushes the buffer (bounded by SHUTDOWN_TIMEOUT_MS) and resolves `done`. */
  stop(): Promise<ProducerSummary>;
  /** Counters so far: sent, buffered, dropped, produced, bad lines. */
  stats(): PublisherStats & { produced: number; badLines: number };
}

/** Bad replay lines reported one by one before only the count goes on. */
const REPORTED_BAD_LINES = 100;
const REPLAY_BATCH = 1_000;

/** Runs the simulator (or a replay) until stopped, --count is reached or the file ends. */
export function startProducer({ config, redis, logger }: ProducerDeps): ProducerRun {
  const publisher = createPublisher({
    redis,
    stream: readingStreamsOf(config),
    logger,
    maxBuffered: config.maxBuffered,
    frameReadings: config.frameReadings,
  });
  let stopping = false;
  let produced = 0;
  let badLines = 0;
  // Ticks and pacing that stop() cuts short.
  const sleeper = createSleeper();
  const sleep = sleeper.sleep;

  const simulate = async () => {
    const intervalMs = config.rate ? (config.devices * 1_000) / config.rate : config.intervalMs;
    const simulator = createSimulator({ ...config, intervalMs });
    logger.info('simulating', {
      devices: config.devices,
      intervalMs,
      ratePerSec: (config.devices * 1_000) / intervalMs,
      count: config.count,
    });
    while (!stopping && (config.count === undefined || produced < config.count)) {
      const remaining = config.count === undefined ? undefined : config.count - produced;
      const readings = simulator.due(Date.now(), remaining);
      if (readings.length > 0) {
        publisher.publish(readings);
        produced += readings.length;
      }
      await sleep(Math.max(1, Math.min(100, simulator.nextDueAt() - Date.now())));
    }
  };

  const replay = async (source: string) => {
    logger.info('replaying', { source });
    const startedAt = Date.now();
    let batch: Reading[] = [];
    const flush = async () => {
      await publisher.waitForRoom(batch.length);
      publisher.publish(batch);
      produced += batch.length;
      batch = [];
      // --rate paces a replay too: wait until the schedule catches up with what was produced.
      if (config.rate) await sleep(Math.max(0, startedAt + (produced / config.rate) * 1_000 - Date.now()));
    };
    // On a terminal, a progress line: share of the file, rate and time left.
    const progress = { bytes: 0 };
    const totalBytes = source === '-' ? 0 : (statSync(source, { throwIfNoEntry: false })?.size ?? 0);
    const showProgress = Boolean(process.stderr.isTTY) && totalBytes > 0;
    const drawProgress = () =>
      process.stderr.write(
        `\r\x1b[K${replayProgressLine({ bytes: progress.bytes, totalBytes, readings: produced, seconds: (Date.now() - startedAt) / 1_000 })}`,
      );
    const progressTimer = showProgress ? setInterval(drawProgress, 500) : undefined;
    try {
      for await (const item of readReadingFile(source, { progress })) {
        if (stopping) break;
        if ('error' in item) {
          badLines += 1;
          if (badLines <= REPORTED_BAD_LINES) logger.warn('replay_bad_line', { line: item.line, error: item.error });
          continue;
        }
        batch.push(item.reading);
        if (
          batch.length >=
          (config.rate ? Math.max(1, Math.min(REPLAY_BATCH, Math.ceil(config.rate / 100))) : REPLAY_BATCH)
        )
          await flush();
        if (config.count !== undefined && produced + batch.length >= config.count) break;
      }
      if (batch.length > 0 && !stopping) await flush();
    } finally {
      if (progressTimer) {
        clearInterval(progressTimer);
        drawProgress();
        process.stderr.write('\n');
      }
    }
    logger.info('replay_read', { source, readings: produced, badLines });
  };

  let lastSent = 0;
  let lastStatusAt = Date.now();
  const status = setInterval(() => {
    const stats = publisher.stats();
    const now = Date.now();
    const ratePerSec = Math.round(((stats.sent - lastSent) * 1_000) / Math.max(1, now - lastStatusAt));
    lastSent = stats.sent;
    lastStatusAt = now;
    logger.info('status', { ...stats, ratePerSec });
  }, config.statusIntervalMs);

  let finishing: Promise<ProducerSummary> | undefined;
  const finish = (flushTimeoutMs: number) => {
    finishing ??= (async () => {
      const unsent = await publisher.close(flushTimeoutMs);
      clearInterval(status);
      await sink?.close();
      const summary = { ...publisher.stats(), produced, badLines, unsent };
      if (unsent > 0)
        logger.error('shutdown_unsent', { unsent, hint: 'Redis was unreachable; these readings were not published' });
      logger.info('stopped', summary);
      return summary;
    })();
    return finishing;
  };

  let sink: CsvSink | undefined;
  const producing = (async () => {
    if (config.csv) {
      const csv = await openCsvSink(config.csv);
      sink = csv;
      // Only what Redis acknowledged goes to the CSV, so the file is the record of what was published.
      publisher.onSent((readings) => csv.append(readings));
    }
    if (config.replay) await replay(config.replay);
    else await simulate();
  })();

  const done: Promise<ProducerSummary> = producing
    .catch((error) => {
      logger.error('producer_failed', { error });
      throw error;
    })
    // Ended by itself (count reached, file done): wait as long as it takes to deliver everything.
    .then(() => finish(stopping ? config.shutdownTimeoutMs : Number.POSITIVE_INFINITY));

  return {
    done,
    stats: () => ({ ...publisher.stats(), produced, badLines }),
    async stop() {
      stopping = true;
      sleeper.wakeAll();
      await producing.catch(() => {});
      // Ended by itself already (--count reached, the file read) and flushing without end while
      // Redis is away: this bounds that flush to SHUTDOWN_TIMEOUT_MS too.
      void publisher.close(config.shutdownTimeoutMs);
      return finish(config.shutdownTimeoutMs);
    },
  };
}
