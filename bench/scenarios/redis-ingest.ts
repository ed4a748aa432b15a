// redis_ingest: the ingest load on the Redis backend, against a redis-server
// of our own (free port, no persistence); baseline: the same lines written
// straight to Redis with pipelined XADD from one Node process.
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort, sleep, startGenerator, startLogService, type ServerChild } from '../lib/processes.ts';
import { measurePush, pushLoad, round } from './ingest.ts';
import type { BenchOptions } from './options.ts';

async function startRedis(): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.once('error', () => {});
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      break;
    } catch {
      probe.disconnect();
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill('SIGKILL');
        throw new Error('redis-server did not start');
      }
      await sleep(100);
    }
  }
  return {
    port,
    async stop() {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

export async function redisIngest(options: BenchOptions): Promise<Record<string, number | string | null>> {
  const load = pushLoad(options);
  const redis = await startRedis();
  try {
    const gen = startGenerator<{ lines_per_s: number }>(
      'redis-xadd.ts',
      {
        port: redis.port,
        pipelines: load.connections,
        warmupMs: load.warmupMs,
        durationMs: load.durationMs,
        linesPerBatch: 100,
        lineBytes: 100,
      },
      load.warmupMs + load.durationMs + 30_000,
    );
    const baselineRate = (await gen.result).lines_per_s;
    let server: ServerChild;
    try {
      server = await startLogService({ env: { LOG_SERVICE_REDIS_URL: `redis://127.0.0.1:${redis.port}` }, cpuProfDir: options.profileDir('redis_ingest') });
    } catch (err) {
      const why = String(err)
        .split('\n')
        .filter((l) => l.trim() !== '')
        .slice(0, 3)
        .join(' ')
        .slice(0, 300);
      return {
        lines_per_s: null,
        baseline_lines_per_s: Math.round(baselineRate),
        ratio: null,
        skipped: `the server does not start with LOG_SERVICE_REDIS_URL (Redis backend not wired yet?): ${why}`,
      };
    }
    let rate: number;
    try {
      rate = (await measurePush(server, load, 'ingest')).rate;
    } finally {
      await server.stop();
    }
    return { lines_per_s: Math.round(rate), baseline_lines_per_s: Math.round(baselineRate), ratio: round(rate / baselineRate, 3) };
  } finally {
    await redis.stop();
  }
}
