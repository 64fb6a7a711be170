/**
 * ISO-8601 / RFC 3339 date-time as the API has always taken it: `T` or a space, seconds and a
 * fraction optional, a zone required (`Z`, `+01:00` or `+0100`).
 */
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;

/**
 * Epoch milliseconds of an ISO-8601 date-time, or NaN when it is not one or names a moment that
 * does not exist. `Date.parse` rolls `2026-02-30` over to March 2nd and `T24:00:00` to the next
 * day, silently; a reading stored under a day its device never lived is worse than one refused.
 */
export function parseIsoTime(text: string): number {
  const match = ISO_TIME.exec(text);
  if (!match) return Number.NaN;
  const [year, month, day, hour, minute, second = 0] = match
    .slice(1, 7)
    .map((part) => (part === undefined ? undefined : Number(part))) as [
    number,
    number,
    number,
    number,
    number,
    number?,
  ];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59)
    return Number.NaN;
  return Date.parse(text);
}
