// Builds ioredis clients from `RedisSettings` (docs/BACKENDS.md, docs/CONFIGURATION.md): a URL, a
// host:port endpoint (+ password), TLS (+ CA file), Sentinel or Cluster.
// Every client fails fast while Redis is unreachable (no offline queue, a
// command timeout) so handlers can answer 503 at once, and reconnects by itself.
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis, type RedisOptions } from 'ioredis';

export type RedisClient = Redis | Cluster;

/**
 * `command`: ordinary commands and scripts. `reader`: the one connection per
 * instance that sits in XREAD BLOCK (a blocking command holds its connection).
 */
type RedisRole = 'command' | 'reader';

/** Makes a new, connecting client for a role; RedisLogStream calls it once per role. */
export type RedisClientFactory = (role: RedisRole) => RedisClient;

/** How to reach Redis; the composition root fills it from LOG_SERVICE_REDIS_*. */
export interface RedisSettings {
  url?: string;
  endpoint?: string;
  password?: string;
  tls: boolean;
  caFile?: string;
  sentinels?: string[];
  sentinelName: string;
  clusterNodes?: string[];
}

export interface RedisClientOptions {
  /** A command without a reply within this time fails (not applied to XREAD BLOCK). */
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Reconnect backoff cap. */
  maxReconnectDelayMs?: number;
  /** Shown in CLIENT LIST, e.g. "log-service". */
  connectionName?: string;
}

function parseHostPort(text: string, defaultPort = 6379): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:]+))(?::(\d{1,5}))?$/.exec(text.trim());
  if (!m) throw new Error(`expected host:port, got "${text}"`);
  return { host: m[1] ?? m[2] ?? 'localhost', port: m[3] === undefined ? defaultPort : Number(m[3]) };
}

/** Options shared by every role: fail fast, reconnect with capped backoff. */
function baseOptions(role: RedisRole, opts: RedisClientOptions): RedisOptions {
  const maxDelay = opts.maxReconnectDelayMs ?? 2000;
  return {
    // RESP2: understood by every Redis (and proxy) the service may meet.
    protocol: 2,
    enableOfflineQueue: false,
    // A command caught by a dropped connection fails instead of waiting for a reconnect.
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: opts.connectTimeoutMs ?? 5000,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 10), maxDelay),
    connectionName: opts.connectionName === undefined ? undefined : `${opts.connectionName}-${role}`,
    ...(role === 'command'
      ? { commandTimeout: opts.commandTimeoutMs ?? 5000 }
      : // XREAD BLOCK n gets a client-side deadline of n + grace: a half-open socket cannot hang the reader.
        { blockingTimeout: 1, blockingTimeoutGrace: 2000 }),
  };
}

function tlsOptions(settings: RedisSettings): ConnectionOptions | undefined {
  const useTls = settings.tls || settings.url?.startsWith('rediss://') === true;
  if (!useTls) return undefined;
  return settings.caFile === undefined ? {} : { ca: readFileSync(settings.caFile) };
}

/**
 * A factory for clients of the configured Redis. Precedence: cluster nodes,
 * then sentinels, then URL, then endpoint.
 */
export function redisClientFactory(settings: RedisSettings, opts: RedisClientOptions = {}): RedisClientFactory {
  const tls = tlsOptions(settings);
  const password = settings.password;
  return (role) => {
    const base = baseOptions(role, opts);
    if (settings.clusterNodes !== undefined && settings.clusterNodes.length > 0) {
      const { retryStrategy, enableOfflineQueue, ...redisOptions } = base;
      return new Cluster(
        settings.clusterNodes.map((n) => parseHostPort(n)),
        {
          enableOfflineQueue,
          clusterRetryStrategy: (times) => (retryStrategy ? retryStrategy(times) : null) ?? null,
          redisOptions: { ...redisOptions, password, tls },
        },
      );
    }
    if (settings.sentinels !== undefined && settings.sentinels.length > 0) {
      return new Redis({
        ...base,
        sentinels: settings.sentinels.map((s) => parseHostPort(s, 26379)),
        name: settings.sentinelName,
        password,
        tls,
        sentinelTLS: tls,
        enableTLSForSentinelMode: tls !== undefined,
      });
    }
    if (settings.url !== undefined) {
      // Options given here win over the URL's only where the URL is silent.
      return new Redis(settings.url, { ...base, ...(password === undefined ? {} : { password }), ...(tls ? { tls } : {}) });
    }
    if (settings.endpoint !== undefined) {
      return new Redis({ ...base, ...parseHostPort(settings.endpoint), password, tls });
    }
    throw new Error('redis: set LOG_SERVICE_REDIS_URL, _ENDPOINT, _SENTINELS or _CLUSTER_NODES');
  };
}
