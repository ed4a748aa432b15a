// ingest: producers push batches of 100 lines × 100 bytes (JSON) over several
// keep-alive connections; baseline: a bare node:http server parsing the same
// bodies. Also used for redis_ingest (the same load, server on Redis).
import { cpuSeconds, sleep, startBaseline, startGenerator, startLogService, type ServerChild } from '../lib/processes.ts';
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
  /** Every 204 to a push, warm-up included. */
  total_requests: number;
  errors: string[];
}

export interface PushFigures {
  /** Lines acknowledged per second in the measurement window. */
  rate: number;
  /**
   * The server's CPU time (user + system) per line acknowledged, over the
   * generator's whole run: what a line costs the server, which the shared
   * cores' noise moves far less than the rate.
   */
  cpuUsPerLine: number;
}

export function pushLoad(options: BenchOptions): PushLoad {
  return options.quick ? { connections: 8, depth: 2, warmupMs: 1000, durationMs: 4000 } : { connections: 8, depth: 2, warmupMs: 2000, durationMs: 15_000 };
}

const LINES_PER_BATCH = 100;

/** Runs the push generator against `server`: lines/s and the server's CPU per line (throws on any non-204). */
export async function measurePush(server: ServerChild, load: PushLoad, keyPrefix: string): Promise<PushFigures> {
  const cpuBefore = cpuSeconds(server.pid);
  const gen = startGenerator<PushResult>(
    'push-gen.ts',
    {
      port: server.port,
      ...load,
      account: 'bench',
      keyPrefix,
      linesPerBatch: LINES_PER_BATCH,
      lineBytes: 100,
    },
    load.warmupMs + load.durationMs + 30_000,
  );
  const result = await gen.result;
  const cpuSpent = cpuSeconds(server.pid) - cpuBefore;
  if (result.errors.length > 0) throw new Error(`push errors: ${result.errors.join('; ')}\n${server.output().slice(-1000)}`);
  return { rate: result.lines_per_s, cpuUsPerLine: (cpuSpent * 1e6) / (result.total_requests * LINES_PER_BATCH) };
}

/**
 * Rounds of the load, alternating (bare, service, bare, …) on the same two
 * servers, up throughout: this machine's speed drifts, by up to half within a
 * minute (BENCHMARKS.md, "ingest: rounds side by side"), and one long phase of
 * each put the drift into the ratio; a baseline round beside each round of
 * the service cancels most of it. Each round pushes to streams of its own (a
 * stream opened again would drop its archive: not what ingest measures). The
 * first round warms both up as one long phase did; each figure is the mean
 * over the rounds.
 */
function ingestRounds(options: BenchOptions): { rounds: number; first: PushLoad; next: PushLoad } {
  const load = pushLoad(options);
  const rounds = options.quick ? 2 : 3;
  const durationMs = Math.round(load.durationMs / rounds);
  return { rounds, first: { ...load, durationMs }, next: { ...load, durationMs, warmupMs: 1000 } };
}

/** After a round: what a server still does (the archive writing its last chunk) ends before the other's round starts. */
const SETTLE_MS = 1000;

export async function ingest(options: BenchOptions): Promise<Record<string, number>> {
  const { rounds, first, next } = ingestRounds(options);
  const baseline = await startBaseline('ingest-server.ts');
  let server: ServerChild | undefined;
  const bare: PushFigures[] = [];
  const service: PushFigures[] = [];
  try {
    server = await startLogService({ cpuProfDir: options.profileDir('ingest') });
    for (let i = 0; i < rounds; i++) {
      const load = i === 0 ? first : next;
      bare.push(await measurePush(baseline, load, `ingest-${i}`));
      await sleep(SETTLE_MS);
      service.push(await measurePush(server, load, `ingest-${i}`));
      await sleep(SETTLE_MS);
    }
  } finally {
    await baseline.stop();
    await server?.stop();
  }
  const mean = (figures: PushFigures[], key: keyof PushFigures) => figures.reduce((sum, f) => sum + f[key], 0) / figures.length;
  const rate = mean(service, 'rate');
  const bareRate = mean(bare, 'rate');
  return {
    lines_per_s: Math.round(rate),
    baseline_lines_per_s: Math.round(bareRate),
    ratio: round(rate / bareRate, 3),
    cpu_us_per_line: round(mean(service, 'cpuUsPerLine'), 3),
    baseline_cpu_us_per_line: round(mean(bare, 'cpuUsPerLine'), 3),
    cpu_ratio: round(mean(service, 'cpuUsPerLine') / mean(bare, 'cpuUsPerLine'), 2),
    // The lowest ratio of a round to the baseline round beside it: how far the drift moves one round.
    min_round_ratio: round(Math.min(...service.map((f, i) => f.rate / bare[i]!.rate)), 3),
    rounds,
  };
}

export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
