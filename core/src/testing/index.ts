export { startRedisServer, freePort, type RedisServer, type RedisServerOptions } from './redis-server.ts';
export { type RedisCluster, type RedisClusterOptions, redisCli, startRedisCluster } from './redis-cluster.ts';
export { HA_MASTER_NAME, type RedisHa, type RedisHaOptions, startRedisHa } from './redis-ha.ts';
export { waitFor, uniqueName } from './wait.ts';
export { useRedis, type TestRedis } from './use-redis.ts';
export { startService, type ServiceProcess } from './service-process.ts';
export { startTcpProxy } from './tcp-proxy.ts';
export { own } from './owned-processes.ts';
export {
  startPostgresServer,
  usePostgres,
  type PostgresServer,
  type PostgresServerOptions,
  type TestDatabase,
} from './postgres-server.ts';
export { startMosquitto, type MosquittoServer } from './mosquitto-server.ts';
export { streamEntries, streamReadings } from './stream-readings.ts';
export { redisUpFor } from './redis-uptime.ts';
export { seededRandom } from './seeded-random.ts';
