import {
  ALERT_VERSION,
  type ConsumerEntry,
  MAX_FUTURE_MS,
  type Reading,
  type Rule,
  alertKeys,
  createLatencyHistogram,
  type LatencyHistogram,
  isAbsenceRule,
  isRateRule,
  isThresholdRule,
  isWindowRule,
  renewalsOf,
} from 'core';
import type Redis from 'ioredis';
import { createAbsenceObserver } from './absence/observer.ts';
import { createDeviceObserver } from './devices/observer.ts';
import { QuietDevices } from './quiet-devices.ts';
import { createRateEvaluator } from './rate/evaluator.ts';
import { thresholdPairs } from './threshold-pairs.ts';
import { withStateCodec } from './threshold-state.ts';
import { createWindowEvaluator } from './window/evaluator.ts';

/**
 * Readings against rules' states, atomically, in one Lua script (`lua/evaluate-alerts.lua`, whose
 * header documents its KEYS, ARGV and state format): the states and the alert XADDs change
 * together, so redelivered readings never fire a transition twice. Pairs and rules travel as two
 * JSON arguments (decoded by Redis's C cjson) instead of 8 per pair: building, sending and
 * interning thousands of arguments was most of the evaluator's cost on both sides.
 *
 * States are ordered by min(reading ts, stream entry time): a reading dated ahead of its arrival
 * (a device clock hours fast) counts as arriving when it did, so it can never make the device's
 * later readings look old and silence its alerts.
 */
const EVALUATE = withStateCodec('evaluate-alerts.lua');

/** A batch with more transitions than this share of its evaluations is a storm (see `stormy`). */
const STORM_SHARE = 0.1;

/** The transitions in a script's answer (every character but `-` and `.` no change, `s` stale). */
const countTransitions = (answer: string) => {
  let n = 0;
  for (const c of answer) if (c !== '-' && c !== '.' && c !== 's') n += 1;
  return n;
};

/** Pairs per script call: long enough to amortise the call, short enough not to stall Redis (~ms). */
const PAIRS_PER_CALL = 500;

type EvaluatingRedis = Redis & {
  evaluateAlerts(numberOfKeys: number, ...keysAndArgs: string[]): Promise<string>;
};

export interface EvaluatorCounters {
  evaluated: number;
  firing: number;
  resolved: number;
  repeats: number;
  stale: number;
  /** Transitions of flapping devices, recorded and not notified. */
  quiet: number;
  /** Notices that a flapping device is stable again. */
  stable: number;
  /** Silences (absence rules) resolved by a reading. */
  backFromSilence: number;
}

/** Every counter at zero. */
export function emptyEvaluatorCounters(): EvaluatorCounters {
  return { evaluated: 0, firing: 0, resolved: 0, repeats: 0, stale: 0, quiet: 0, stable: 0, backFromSilence: 0 };
}

/** The evaluator's lease was lost: another instance evaluates now; this batch stays pending for it. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
}

/**
 * The `alerts` group's handler: every reading against every rule that matches it, all in one
 * pipeline per batch. Returns nothing (all done) once Redis has applied them, so a reading is
 * acked only after its alerts are written. Detection latency: reading ts → alert written.
 */
export function createEvaluator(options: {
  redis: Redis;
  rules: readonly Rule[];
  alertsStream: string;
  lease?: { key: string; token: string };
  /**
   * A reading that arrived longer than this after it was taken (ALERT_NOTIFY_MAX_AGE_MS) raises its
   * transitions quiet: recorded, not sent. Measured at arrival (the stream entry's time), not at
   * evaluation: a failover's re-evaluation then decides as the first did, and readings held up
   * behind an outage of alerting itself still page, late. 0 (the default here): every one is sent.
   */
  notifyMaxAgeMs?: number;
  /**
   * Whether readings of devices known quiet are left unsent (quiet-devices.ts; the default): off,
   * every pair goes to the script, which answers the same.
   */
  skipQuietDevices?: boolean;
  /** Counters and detection times to add to, shared by the evaluators of several partitions. */
  counters?: EvaluatorCounters;
  detection?: LatencyHistogram;
}) {
  const notifyMaxAgeMs = options.notifyMaxAgeMs ?? 0;
  const skipQuietDevices = options.skipQuietDevices ?? true;
  const { alertsStream } = options;
  // EVALSHA under the hood: the script is sent once per connection, not per reading.
  if (!('evaluateAlerts' in options.redis)) options.redis.defineCommand('evaluateAlerts', { lua: EVALUATE });
  const redis = options.redis as EvaluatingRedis;
  const counters = options.counters ?? emptyEvaluatorCounters();
  // Firings followed for escalation (escalation.ts), kept by the script with each transition.
  const keys = alertKeys(redis, alertsStream);
  const escalation = keys.escalation;
  const absence = createAbsenceObserver({ redis: options.redis, alertsStream, lease: options.lease });
  const devices = createDeviceObserver({ redis: options.redis, alertsStream, lease: options.lease });
  const rate = createRateEvaluator({ redis: options.redis, alertsStream, lease: options.lease, notifyMaxAgeMs });
  const windows = createWindowEvaluator({ redis: options.redis, alertsStream, lease: options.lease, notifyMaxAgeMs });
  /** The rules in force, with what the script needs of them; replaced whole when they change. */
  const compile = (all: readonly Rule[]) => {
    // Threshold rules are evaluated here, reading by reading; absence rules watch (absence/).
    const rules = all.filter(isThresholdRule);
    return {
      rules,
      absenceRules: all.filter(isAbsenceRule),
      rateRules: all.filter(isRateRule),
      windowRules: all.filter(isWindowRule),
      stateKeys: rules.map((rule) => keys.thresholdState(rule.id)),
      // Known afresh for each set of rules: their numbers are positions in this one.
      quiet: new QuietDevices(rules.length),
      table: JSON.stringify(
        rules.map((rule) => [
          rule.id,
          String(rule.threshold),
          rule.severity,
          rule.forReadings,
          rule.repeatAfterMs,
          rule.flapTransitions,
          rule.flapWithinMs,
          rule.escalate.length > 0 ? 1 : 0,
        ]),
      ),
    };
  };
  let active = compile(options.rules);
  const detection = options.detection ?? createLatencyHistogram();
  // The lease key and token the script checks, when instances share the evaluation.
  const fence = options.lease ? { keys: [options.lease.key], args: [options.lease.token] } : { keys: [], args: [] };

  /** Transitions over (reading, rule) pairs, in the last batch. */
  let transitionShare = 0;
  /** Batches being evaluated now, and the connection's renewals when the last began. */
  let handling = 0;
  let renewalsSeen = renewalsOf(redis);

  return {
    counters,
    detection,
    /**
     * An alert storm: more than STORM_SHARE of the last batch's evaluations were transitions
     * (every reading flapping around a threshold) — alert work that, on the same machine, would
     * take storage's share of the cores.
     */
    stormy: () => transitionShare > STORM_SHARE,
    /** From the next batch on (a batch in flight finishes with the rules it started with). */
    setRules(rules: readonly Rule[]) {
      active = compile(rules);
    },
    /** A new lead of this evaluator's partition: another instance may have written the states meanwhile. */
    startLead() {
      active.quiet.clear();
    },
    async handle(batch: ReadonlyArray<ConsumerEntry<Reading>>): Promise<void> {
      const rules = active;
      const { quiet } = rules;
      const renewals = renewalsOf(redis);
      if (renewals !== renewalsSeen) {
        renewalsSeen = renewals;
        quiet.clear();
      }
      // One batch at a time knows the states (as the group hands them over); one beside another does not.
      handling += 1;
      try {
        await evaluate(batch, rules, skipQuietDevices && handling === 1);
        if (renewalsOf(redis) !== renewals) {
          quiet.clear();
          throw new Error(
            'the Redis connection was made again while the batch was evaluated (a failover may have lost states): evaluated again',
          );
        }
      } catch (error) {
        quiet.clear();
        throw error;
      } finally {
        handling -= 1;
      }
    },
  };

  /** The batch against `compiled` rules; with `skipQuiet`, readings of devices known quiet are not sent. */
  async function evaluate(
    batch: ReadonlyArray<ConsumerEntry<Reading>>,
    compiled: ReturnType<typeof compile>,
    skipQuiet: boolean,
  ) {
    const { rules, stateKeys, table: ruleTable, absenceRules, rateRules, windowRules, quiet } = compiled;
    const pairs = thresholdPairs(batch, rules, notifyMaxAgeMs, quiet, skipQuiet);
    const { tuples } = pairs;
    const calls: Array<Promise<string>> = [];
    for (let start = 0; start < tuples.length; start += PAIRS_PER_CALL) {
      const chunk = JSON.stringify(tuples.slice(start, start + PAIRS_PER_CALL));
      // Alert ids are made by the script from the reading, rule, device and transition: the same every time.
      calls.push(
        redis.evaluateAlerts(
          stateKeys.length + 4 + fence.keys.length,
          alertsStream,
          ...stateKeys,
          keys.acks,
          escalation.firing,
          escalation.raised,
          ...fence.keys,
          ALERT_VERSION,
          ruleTable,
          chunk,
          String(MAX_FUTURE_MS),
          ...fence.args,
        ),
      );
    }
    // Each kind in its own place, and the devices seen, all applied before the batch is acknowledged.
    const [results, backFromSilence, rateTransitions, windowTransitions, newDevices] = await Promise.all([
      Promise.all(calls),
      absenceRules.length > 0 ? absence.observe(absenceRules, batch) : 0,
      rateRules.length > 0 ? rate.evaluate(rateRules, batch) : '',
      windowRules.length > 0 ? windows.evaluate(windowRules, batch) : '',
      devices.observe(batch),
    ]);
    if (
      results.includes('!') ||
      backFromSilence === 'lease lost' ||
      rateTransitions === 'lease lost' ||
      windowTransitions === 'lease lost' ||
      newDevices === 'lease lost'
    )
      throw new LeaseLostError('the evaluator lease is another instance’s now');
    counters.backFromSilence += backFromSilence;
    for (const transition of rateTransitions + windowTransitions) {
      if (transition === 'f') counters.firing += 1;
      else if (transition === 'r') counters.resolved += 1;
    }
    const transitions = results.join('');
    const evaluated = transitions.length + pairs.skipped;
    transitionShare = evaluated === 0 ? 0 : countTransitions(transitions) / evaluated;
    counters.evaluated += evaluated;
    const now = Date.now();
    for (let index = 0; index < transitions.length; index++) {
      const transition = transitions[index];
      const rule = pairs.rules[index] as number;
      const device = (pairs.readings[index] as Reading).deviceId;
      if (transition === '.') {
        quiet.quiet(rule, device, pairs.orders[index] as number);
        continue;
      }
      // Forgotten again: a batch beside this one may have told it quiet meanwhile.
      quiet.sent(rule, device);
      if (transition === 's') counters.stale += 1;
      else if (transition === 'q') counters.quiet += 1;
      else if (transition === 'n') counters.stable += 1;
      else if (transition !== '-') {
        if (transition === 'f') counters.firing += 1;
        else if (transition === 'r') counters.resolved += 1;
        else counters.repeats += 1;
        detection.observe(now - (pairs.readings[index] as Reading).ts);
      }
    }
  }
}
