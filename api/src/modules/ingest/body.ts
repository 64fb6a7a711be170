import { MAX_JSON_DEPTH, decodeUtf8Body, jsonDepthExceeds } from '../../json-body.ts';

/** A line of an NDJSON body that is not JSON: refused alone, named by its index. */
export class UnparsedLine {
  constructor(readonly message: string) {}
}

/**
 * An NDJSON body as items, one per non-empty line: a line that is not JSON (or nests too deep)
 * becomes an UnparsedLine, so one bad line costs one reading, not the request.
 * @throws ApiError 400 when the body is not UTF-8.
 */
export function parseNdjson(bytes: ArrayBuffer): unknown[] {
  const items: unknown[] = [];
  for (const line of decodeUtf8Body(bytes).split('\n')) {
    if (line.trim() === '') continue;
    if (jsonDepthExceeds(line, MAX_JSON_DEPTH)) {
      items.push(new UnparsedLine(`nests JSON deeper than ${MAX_JSON_DEPTH} levels`));
      continue;
    }
    try {
      items.push(JSON.parse(line));
    } catch {
      items.push(new UnparsedLine('is not valid JSON'));
    }
  }
  return items;
}
