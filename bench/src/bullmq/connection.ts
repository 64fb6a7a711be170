/** REDIS_URL as BullMQ's connection options (it makes its own ioredis connections). */
export function redisConnection() {
  const url = new URL(process.env.REDIS_URL as string);
  return { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };
}
