import { NAME_PATTERN } from 'core';
import { invalidField } from '../../errors.ts';

import type { Cursor } from '../../storage/port.ts';

// A cursor is a position in the (ts, id) order: opaque to clients, so the order can change without breaking them.

const ID = new RegExp(NAME_PATTERN);

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.ts, cursor.id])).toString('base64url');
}

/** @throws a 422 naming `cursor` for anything this API did not hand out. */
export function decodeCursor(raw: string): Cursor {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (
      Array.isArray(parsed) &&
      parsed.length === 2 &&
      Number.isSafeInteger(parsed[0]) &&
      typeof parsed[1] === 'string' &&
      ID.test(parsed[1])
    ) {
      return { ts: parsed[0] as number, id: parsed[1] };
    }
  } catch {
    // Falls through to the error below.
  }
  throw invalidField('cursor', 'is not a cursor this API handed out');
}
