import type { TSchema } from '@sinclair/typebox';
import type { TypeCheck } from '@sinclair/typebox/compiler';
import { InvalidEventError } from './errors.ts';

/**
 * Checks `value` against a compiled schema and throws an InvalidEventError naming the first bad field.
 * Compiled checks keep decoding cheap on the hot path (tens of thousands of events a second).
 */
export function assertSchema<T extends TSchema>(check: TypeCheck<T>, value: unknown): void {
  if (check.Check(value)) return;
  const first = check.Errors(value).First();
  const field = first?.path.replace(/^\//, '').replaceAll('/', '.') || 'event';
  throw new InvalidEventError(field, first ? describe(first.message, first.value) : 'is invalid');
}

function describe(message: string, value: unknown): string {
  const shown =
    typeof value === 'string' ? JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value) : String(value);
  return `${message.charAt(0).toLowerCase()}${message.slice(1)}, got ${shown}`;
}
