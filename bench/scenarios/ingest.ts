// ingest: producers push batches of 100 lines × 100 bytes (JSON) over several
// keep-alive connections; baseline: a bare node:http server parsing the same
// bodies. Also used for redis_ingest (the same load, server on Redis).
import { startBaseline, startGenerator, startLogService, type ServerChild } from '../lib/processes.ts';
import type { BenchOptions } from './options.ts';

export interface PushLoad {
  connections: number;
  depth: number;
  warmupMs: number;
  durationMs: number;
}

interface PushResult {
  lines_per_s: number;
  requests: number;
  errors: string[];
}

export function pushLoad(options: BenchOptions): PushLoad {
  return options.quick ? { connections: 8, depth: 2, warmupMs: 1000, durationMs: 4000 } : { connections: 8, depth: 2, warmupMs: 2000, durationMs: 15_000 };
}

/** Runs the push generator against `server` and returns lines/s (throws on any non-204). */
export async function measurePush(server: ServerChild, load: PushLoad, keyPrefix: string): Promise<number> {
  const gen = startGenerator<PushResult>(
    'push-gen.ts',
    {
      port: server.port,
      ...load,
      account: 'bench',
      keyPrefix,
      linesPerBatch: 100,
      lineBytes: 100,
    },
    load.warmupMs + load.durationMs + 30_000,
  );
  const result = await gen.result;
  if (result.errors.length > 0) throw new Error(`push errors: ${result.errors.join('; ')}\n${server.output().slice(-1000)}`);
  return result.lines_per_s;
}

export async function ingest(options: BenchOptions): Promise<Record<string, number>> {
  const load = pushLoad(options);
  const baseline = await startBaseline('ingest-server.ts');
  let baselineRate: number;
  try {
    baselineRate = await measurePush(baseline, load, 'ingest');
  } finally {
    await baseline.stop();
  }
  const server = await startLogService({ cpuProfDir: options.profileDir('ingest') });
  let rate: number;
  try {
    rate = await measurePush(server, load, 'ingest');
  } finally {
    await server.stop();
  }
  return { lines_per_s: Math.round(rate), baseline_lines_per_s: Math.round(baselineRate), ratio: round(rate / baselineRate, 3) };
}

export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
