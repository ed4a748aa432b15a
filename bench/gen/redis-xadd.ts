// Baseline for redis_ingest: the same lines (100 × 100-byte JSON per batch)
// written straight to Redis from one Node process: one ioredis connection,
// `pipelines` concurrent pipelines of one XADD per line (MAXLEN ~ like the
// service's trimming), one stream per pipeline.
import { Redis } from 'ioredis';
import { finish, generatorConfig } from '../lib/generator.ts';

interface Config {
  port: number;
  pipelines: number;
  warmupMs: number;
  durationMs: number;
  linesPerBatch: number;
  lineBytes: number;
}
const cfg = generatorConfig<Config>();

function lineJson(n: number, bytes: number): string {
  const head = `{"out":"line ${n} `;
  const tail = '\\n"}';
  return head + 'x'.repeat(Math.max(0, bytes - head.length - tail.length)) + tail;
}
const lines = Array.from({ length: cfg.linesPerBatch }, (_, i) => lineJson(i, cfg.lineBytes));

const redis = new Redis({ host: '127.0.0.1', port: cfg.port, lazyConnect: true, maxRetriesPerRequest: 1 });
await redis.connect();
const start = performance.now();
const windowStart = start + cfg.warmupMs;
const windowEnd = windowStart + cfg.durationMs;
let counted = 0;

async function loop(index: number): Promise<void> {
  const key = `bench:baseline:${index}`;
  while (performance.now() < windowEnd) {
    const p = redis.pipeline();
    for (const line of lines) p.xadd(key, 'MAXLEN', '~', '10000', '*', 'l', line);
    const replies = await p.exec();
    if (replies?.some(([err]) => err !== null)) throw new Error('XADD failed');
    const now = performance.now();
    if (now >= windowStart && now < windowEnd) counted++;
  }
}
await Promise.all(Array.from({ length: cfg.pipelines }, (_, i) => loop(i)));
redis.disconnect();
finish({ lines_per_s: (counted * cfg.linesPerBatch) / (cfg.durationMs / 1000) });
