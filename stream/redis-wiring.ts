// Builds the Redis stream backend from `RedisSettings` (app/services.ts
// calls this when Redis is configured). Connection errors are logged, at most
// one line per interval: ioredis reports every failed reconnect attempt.
import type { Logger } from 'pino';
import type { StreamLimits } from './log-stream.ts';
import { redisClientFactory, type RedisClientOptions, type RedisSettings } from './redis-connection.ts';
import { RedisLogStream, type RedisLogStreamOptions } from './redis-log-stream.ts';

export function createRedisLogStream(
  settings: RedisSettings,
  limits: StreamLimits,
  log: Pick<Logger, 'warn'>,
  options: RedisLogStreamOptions & RedisClientOptions = {},
): RedisLogStream {
  let lastLogged = 0;
  const onError = (err: unknown) => {
    const now = Date.now();
    if (now - lastLogged < 10_000) return;
    lastLogged = now;
    log.warn({ err }, 'redis: connection problem (reconnecting; streams answer 503 meanwhile)');
  };
  const clients = redisClientFactory(settings, { connectionName: 'log-service', ...options });
  return new RedisLogStream(clients, limits, { onError, ...options });
}
