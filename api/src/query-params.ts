import { parseQueryFromURL } from 'elysia/parse-query';
import { ApiError } from './errors.ts';

export type QueryParams = Readonly<Record<string, string>>;

/**
 * A request's query parameters as the route handlers will see them — parsed by the same function
 * Elysia's handlers use, so that what the authoriser checks is what the handler reads whatever the
 * spelling (`device%49d`, `+`, a bad `%`). No route takes a list, so a name given twice is refused:
 * with `?deviceId=a&deviceId=b` a check of one value and a read of the other would disagree.
 * @throws ApiError 400 `repeated_parameter` naming it.
 */
export function queryParams(url: string): QueryParams {
  const start = url.indexOf('?');
  if (start < 0) return {};
  const query = parseQueryFromURL(url, start + 1) as Record<string, string>;
  const given = url
    .slice(start + 1)
    .split('&')
    .filter((pair) => pair !== '');
  if (Object.keys(query).length < given.length) {
    const repeated = firstRepeated(given.map(nameOf));
    throw new ApiError(
      400,
      'repeated_parameter',
      `query parameter ${JSON.stringify(repeated)} is given more than once; give each parameter once`,
    );
  }
  return query;
}

/** A pair's name decoded as Elysia decodes it (for naming the repeated one in the error). */
function nameOf(pair: string): string {
  const equals = pair.indexOf('=');
  const raw = (equals < 0 ? pair : pair.slice(0, equals)).replace(/\+/g, ' ');
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function firstRepeated(names: readonly string[]): string {
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) return name.slice(0, 64);
    seen.add(name);
  }
  return '';
}
