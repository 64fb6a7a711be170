/**
 * Redis replies that mean "not now" rather than "never": out of memory (maxmemory reached),
 * loading its data, busy with a script, a replica or a master that cannot take writes yet, a
 * cluster being reconfigured. Anything that is not a reply at all (a refused connection, a
 * timeout, a closed socket) is transient too. Other replies (a wrong type, a script's own error)
 * will be the same on every retry.
 */
const TRANSIENT_REPLIES = [
  'OOM',
  'LOADING',
  'BUSY',
  'READONLY',
  'MASTERDOWN',
  'TRYAGAIN',
  'CLUSTERDOWN',
  'NOREPLICAS',
  'NOSCRIPT',
  'MOVED',
  'ASK',
];

export function isTransientRedisError(error: unknown): boolean {
  if (!(error instanceof Error) || error.name !== 'ReplyError')
    return error instanceof Error && !(error instanceof RangeError) && !(error instanceof TypeError);
  return TRANSIENT_REPLIES.some((prefix) => error.message.startsWith(prefix));
}

/** True when Redis refused a write because maxmemory is reached. */
export function isRedisOutOfMemory(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError' && error.message.startsWith('OOM');
}
