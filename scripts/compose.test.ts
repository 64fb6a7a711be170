import { describe, expect, it } from 'bun:test';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** There is no Docker engine here: the files are checked for what `docker compose up` relies on. */
const root = join(import.meta.dir, '..');
// biome-ignore lint/suspicious/noExplicitAny: parsed YAML, asserted below
const compose = Bun.YAML.parse(readFileSync(join(root, 'compose.yaml'), 'utf8')) as any;
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const workers = ['api', 'consumer-store', 'consumer-alert', 'ingest-mqtt', 'producer'];

describe('compose.yaml and Dockerfile', () => {
  it('has Redis with AOF, a volume and a healthcheck', () => {
    const redis = compose.services.redis;
    // A supported Redis: 7.0 reached its end of life.
    expect(redis.image).toMatch(/^redis:(7\.[4-9]|[89]\.)/);
    expect(redis.command).toEqual(expect.arrayContaining(['--appendonly', 'yes']));
    expect(redis.volumes).toEqual(['redis-data:/data']);
    expect(redis.healthcheck.test).toEqual(['CMD', 'redis-cli', 'ping']);
    expect(compose.volumes).toHaveProperty('redis-data');
  });

  it('has the API with its SQLite on a volume and a healthcheck on /health', () => {
    const api = compose.services.api;
    expect(api.volumes).toEqual(['api-data:/app/data']);
    expect(api.environment.DATABASE_URL).toBe('/app/data/telemetry.db');
    expect(api.environment.IMPORT_DIR).toBe('/app/data/imports');
    expect(api.healthcheck.test).toEqual(['CMD', 'bun', 'core/src/container-health.ts']);
    expect(api.depends_on.redis.condition).toBe('service_healthy');
    expect(compose.volumes).toHaveProperty('api-data');
  });

  it('starts workers only after healthy Redis (and API for the store), scalable: no fixed name or host port', () => {
    for (const name of ['consumer-store', 'consumer-alert', 'ingest-mqtt', 'producer']) {
      const service = compose.services[name];
      expect(service.depends_on.redis.condition).toBe('service_healthy');
      expect(service.container_name).toBeUndefined();
      expect(service.ports).toBeUndefined();
      expect(service.restart).toBe('unless-stopped');
      expect(service.env_file).toEqual([{ path: '.env', required: false }]);
    }
    expect(compose.services['consumer-store'].depends_on.api.condition).toBe('service_healthy');
    expect(compose.services['consumer-store'].environment.API_URL).toBe('http://api:3000');
  });

  it('has an MQTT broker keeping sessions and their queued messages, which ingest-mqtt waits for', () => {
    const broker = compose.services.mosquitto;
    expect(broker.image).toMatch(/^eclipse-mosquitto:2/);
    expect(broker.volumes).toEqual([
      './mosquitto.conf:/mosquitto/config/mosquitto.conf:ro',
      'mosquitto-data:/mosquitto/data',
    ]);
    const config = readFileSync(join(root, 'mosquitto.conf'), 'utf8');
    expect(config).toMatch(/^persistence true$/m);
    expect(Number(/^max_queued_messages (\d+)$/m.exec(config)?.[1])).toBeGreaterThanOrEqual(100_000);
    const ingest = compose.services['ingest-mqtt'];
    expect(ingest.environment.MQTT_URL).toBe('mqtt://mosquitto:1883');
    expect(ingest.depends_on.mosquitto.condition).toBe('service_healthy');
  });

  it('builds every service from the Dockerfile, whose entry file exists for each', () => {
    for (const name of workers) {
      const service = compose.services[name];
      expect(service.build.context).toBe('.');
      expect(service.build.args.SERVICE).toBe(name);
      expect(existsSync(join(root, name, 'src/index.ts'))).toBe(true);
    }
    expect(dockerfile).toContain('CMD ["sh", "-c", "exec bun \\"$SERVICE/src/index.ts\\""]');
  });

  it('uses the Bun version CI pins, installs frozen, and runs as a non-root user', () => {
    const ciBun = /BUN_VERSION="([\d.]+)"/.exec(readFileSync(join(root, '.ci/run'), 'utf8'))?.[1];
    expect(dockerfile).toContain(`ARG BUN_IMAGE=oven/bun:${ciBun}-slim`);
    expect(dockerfile).toMatch(/^USER bun$/m);
    // Every workspace manifest is copied before the install, or the frozen install fails.
    const workspaces: string[] = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).workspaces.packages;
    for (const workspace of workspaces)
      expect(dockerfile).toContain(`COPY ${workspace}/package.json ${workspace}/package.json`);
  });

  it("builds a slim image per service: only its own and core's production dependencies, labelled, with a health check", () => {
    const stages = dockerfile.split(/^FROM /m).slice(1);
    expect(stages).toHaveLength(2);
    expect(stages[0]).toContain(
      'bun install --frozen-lockfile --production --ignore-scripts --filter "${SERVICE}" --filter core',
    );
    // The final stage installs nothing: it copies the dependency stage's result.
    expect(stages[1]).not.toContain('bun install');
    expect(stages[1]).toContain('COPY --from=dependencies /app/${SERVICE}/node_modules ${SERVICE}/node_modules');
    for (const label of ['title', 'description', 'version', 'source', 'revision', 'base.name'])
      expect(stages[1]).toContain(`org.opencontainers.image.${label}=`);
    expect(stages[1]).toContain('CMD ["bun", "core/src/container-health.ts"]');
    expect(stages[1]).toContain('HEARTBEAT_FILE=/tmp/heartbeat');
    expect(existsSync(join(root, 'core/src/container-health.ts'))).toBe(true);
  });

  it('leaves tests, local data and secrets out of the build context', () => {
    const ignored = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n');
    for (const pattern of ['**/node_modules', 'data', '.env', '.git', '**/*.test.ts'])
      expect(ignored).toContain(pattern);
  });
});

describe('compose.postgres.yaml', () => {
  // biome-ignore lint/suspicious/noExplicitAny: parsed YAML, asserted below
  const override = Bun.YAML.parse(readFileSync(join(root, 'compose.postgres.yaml'), 'utf8')) as any;

  it('adds PostgreSQL with a volume and a healthcheck, and three API instances on it that the store spreads over', () => {
    const postgres = override.services.postgres;
    expect(postgres.image).toMatch(/^postgres:\d+/);
    expect(postgres.volumes).toEqual(['postgres-data:/var/lib/postgresql/data']);
    expect(postgres.healthcheck.test).toEqual(expect.arrayContaining(['pg_isready']));
    expect(override.volumes).toHaveProperty('postgres-data');
    for (const name of ['api', 'api-2', 'api-3']) {
      const api = override.services[name];
      expect(api.environment.DATABASE_URL).toMatch(/^postgres:\/\/telemetry:.*@postgres:5432\/telemetry$/);
      expect(api.depends_on.postgres.condition).toBe('service_healthy');
      expect(api.build.args.SERVICE).toBe('api');
      expect(api.healthcheck.test).toEqual(['CMD', 'bun', 'core/src/container-health.ts']);
    }
    // Only the first instance is published on the host; the others are reached inside the network.
    expect(override.services.api.ports).toEqual(['3000:3000']);
    expect(override.services['api-2'].ports).toBeUndefined();
    expect(override.services['consumer-store'].environment.API_URL).toBe(
      'http://api:3000,http://api-2:3000,http://api-3:3000',
    );
  });

  it('compose.ha.yaml: a primary, two replicas and three Sentinels, and every service finds the primary through them', () => {
    // biome-ignore lint/suspicious/noExplicitAny: parsed YAML, asserted below
    const ha = Bun.YAML.parse(readFileSync(join(root, 'compose.ha.yaml'), 'utf8')) as any;
    const nodes = ['redis', 'redis-replica-1', 'redis-replica-2'];
    for (const name of nodes) {
      const command = ha.services[name].command as string[];
      expect(command).toEqual(
        expect.arrayContaining(['--appendonly', 'yes', '--min-replicas-to-write', '1', '--min-replicas-max-lag', '5']),
      );
      if (name !== 'redis') expect(command).toEqual(expect.arrayContaining(['--replicaof', 'redis', '6379']));
    }
    const sentinels = ['sentinel-1', 'sentinel-2', 'sentinel-3'];
    for (const name of sentinels) {
      const script = (ha.services[name].command as string[]).join(' ');
      expect(script).toContain('sentinel monitor telemetry redis 6379 2');
      expect(script).toContain('--sentinel');
    }
    for (const name of workers) {
      expect(ha.services[name].environment.REDIS_SENTINELS).toBe(
        sentinels.map((sentinel) => `${sentinel}:26379`).join(','),
      );
      for (const sentinel of sentinels)
        expect(ha.services[name].depends_on[sentinel].condition).toBe('service_healthy');
      expect(compose.services[name]).toBeDefined();
    }
  });

  it('compose.cluster.yaml: six cluster nodes joined as three masters with a replica each, every service on them with 8 partitions', () => {
    // biome-ignore lint/suspicious/noExplicitAny: parsed YAML, asserted below
    const cluster = Bun.YAML.parse(readFileSync(join(root, 'compose.cluster.yaml'), 'utf8')) as any;
    const nodes = [1, 2, 3, 4, 5, 6].map((n) => `redis-c${n}`);
    for (const name of nodes) {
      const command = cluster.services[name].command as string[];
      expect(command).toEqual(
        expect.arrayContaining([
          '--cluster-enabled',
          'yes',
          '--appendonly',
          'yes',
          '--cluster-announce-hostname',
          name,
        ]),
      );
      expect(cluster.volumes).toHaveProperty(`${name}-data`);
    }
    const create = (cluster.services['redis-cluster-create'].command as string[]).join(' ');
    expect(create).toContain('--cluster create');
    expect(create).toContain('--cluster-replicas 1');
    for (const name of nodes) {
      expect(create).toContain(name);
      expect(cluster.services['redis-cluster-create'].depends_on[name].condition).toBe('service_healthy');
    }
    for (const name of workers) {
      expect(cluster.services[name].environment.REDIS_CLUSTER_NODES).toBe('redis-c1:6379,redis-c2:6379,redis-c3:6379');
      expect(cluster.services[name].environment.STREAM_PARTITIONS).toBe('8');
      expect(cluster.services[name].depends_on['redis-cluster-create'].condition).toBe(
        'service_completed_successfully',
      );
      expect(compose.services[name]).toBeDefined();
    }
  });
});
