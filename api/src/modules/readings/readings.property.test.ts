import { expect, it } from 'bun:test';
import fc from 'fast-check';
import { createTestApi } from '../../test-helpers.ts';

const NAME = /^[A-Za-z0-9._:-]+$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const FIELDS = new Set(['id', 'deviceId', 'metric', 'value', 'unit', 'ts']);

/** The contract, written independently of the API's schema: what a valid reading body is. */
function isValid(body: unknown): boolean {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  const r = body as Record<string, unknown>;
  if (Object.keys(r).some((key) => !FIELDS.has(key))) return false;
  const name = (v: unknown, max: number) => typeof v === 'string' && v.length >= 1 && v.length <= max && NAME.test(v);
  if (r.id !== undefined && !name(r.id, 64)) return false;
  if (!name(r.deviceId, 128) || !name(r.metric, 64)) return false;
  if (typeof r.value !== 'number' || !Number.isFinite(r.value)) return false;
  if (typeof r.unit !== 'string' || r.unit.length > 32) return false;
  if (typeof r.ts !== 'string' || !ISO.test(r.ts)) return false;
  const ms = Date.parse(r.ts);
  return !Number.isNaN(ms) && ms >= 0 && ms <= Date.now() + 24 * 3_600_000;
}

const maybe = <T>(good: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 12, arbitrary: good }, { weight: 1, arbitrary: fc.anything() });
const nameArb = (max: number) => fc.stringMatching(new RegExp(`^[A-Za-z0-9._:-]{1,${max}}$`));
// Mostly plausible times; a few before 1970 and after tomorrow, which the API refuses.
const isoArb = fc
  .date({ min: new Date('1965-01-01'), max: new Date('2028-01-01'), noInvalidDate: true })
  .map((d) => d.toISOString());
const fields = {
  id: maybe(fc.uuid()),
  deviceId: maybe(
    fc.oneof({ weight: 5, arbitrary: nameArb(128) }, { weight: 1, arbitrary: fc.string({ maxLength: 140 }) }),
  ),
  metric: maybe(nameArb(64)),
  value: maybe(fc.double()),
  unit: maybe(fc.string({ maxLength: 40 })),
  ts: maybe(fc.oneof({ weight: 5, arbitrary: isoArb }, { weight: 1, arbitrary: fc.string() })),
};

const bodyArb = fc.oneof(
  // Nearly valid: every required field present, some of them wrong.
  { weight: 8, arbitrary: fc.record(fields, { requiredKeys: ['deviceId', 'metric', 'value', 'unit', 'ts'] }) },
  // Fields missing, unknown fields added.
  { weight: 2, arbitrary: fc.record({ ...fields, extra: fc.anything() }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: fc.anything() },
);

it('answers 1,000 random bodies with 2xx exactly when valid, else 400/422, never 5xx; rows only on 2xx', async () => {
  const api = createTestApi();
  let stored = 0;
  let valid = 0;
  await fc.assert(
    fc.asyncProperty(bodyArb, fc.boolean(), async (body, corrupt) => {
      // JSON cannot carry NaN/Infinity; they arrive as null, which is what the API sees.
      const text = JSON.stringify(body) ?? 'undefined';
      const sent = corrupt ? text.slice(0, Math.max(1, text.length - 1)) : text;
      let parsed: unknown;
      let parses = true;
      try {
        parsed = JSON.parse(sent);
      } catch {
        parses = false;
      }
      const before = await api.rowCount();
      const response = await api.request('POST', '/readings', sent);
      expect(response.status).toBeLessThan(500);
      const expectValid = parses && isValid(parsed);
      if (expectValid) {
        valid += 1;
        expect([200, 201]).toContain(response.status);
        if (response.status === 201) stored += 1;
        expect(await api.rowCount()).toBe(before + (response.status === 201 ? 1 : 0));
      } else {
        expect([400, 422]).toContain(response.status);
        expect(await api.rowCount()).toBe(before);
      }
    }),
    { numRuns: 1_000 },
  );
  // The generator must exercise both sides, or the property proves little.
  expect(valid).toBeGreaterThan(50);
  expect(stored).toBe(await api.rowCount());
});
