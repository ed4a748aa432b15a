// ingest: producers push batches of 100 lines × 100 bytes (JSON) over several
// keep-alive connections; baseline: a bare node:http server parsing the same
// bodies, both servers up at once and taking the load in alternating rounds.
// Its load and measurement are also used for redis_ingest and grpc_ingest.
import { setTimeout as delay } from 'node:timers/promises';
import { cpuSeconds, startBaseline, startGenerator, startLogService, type ServerChild } from '../lib/processes.ts';
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
  /** Lines acknowledged over the generator's whole run (warm-up included): what cpuUsPerLine divides by. */
  lines: number;
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
  const lines = result.total_requests * LINES_PER_BATCH;
  return { rate: result.lines_per_s, cpuUsPerLine: (cpuSpent * 1e6) / lines, lines };
}

/**
 * Rounds of the push load taken by each server in turn (bare, service, service,
 * bare, …), both started before the first: the host's speed drifts over a run
 * (BENCHMARKS.md: the bare server alone moved 1.3–2.5 M lines/s within one
 * session), and one window each, one after the other, put that drift into the
 * ratio. Alternating puts it on both alike. Each figure is the rounds' mean.
 */
function alternatingRounds(options: BenchOptions): { rounds: number; load: PushLoad } {
  return options.quick
    ? { rounds: 2, load: { connections: 8, depth: 2, warmupMs: 500, durationMs: 2000 } }
    : { rounds: 3, load: { connections: 8, depth: 2, warmupMs: 1000, durationMs: 5000 } };
}

async function measureAlternating(
  bareServer: ServerChild,
  serviceServer: ServerChild,
  options: BenchOptions,
): Promise<{ bare: PushFigures; service: PushFigures }> {
  const { rounds, load } = alternatingRounds(options);
  const bare: PushFigures[] = [];
  const service: PushFigures[] = [];
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? (['bare', 'service'] as const) : (['service', 'bare'] as const);
    for (const which of order) {
      const server = which === 'bare' ? bareServer : serviceServer;
      const figures = await measurePush(server, load, `ingest-${round}`);
      // What the round left running is the round's too.
      figures.cpuUsPerLine += ((await settle(server)) * 1e6) / figures.lines;
      (which === 'bare' ? bare : service).push(figures);
    }
  }
  return { bare: meanFigures(bare), service: meanFigures(service) };
}

/**
 * Waits until `server` is idle (at most one clock tick of CPU in 200 ms, for at
 * most 3 s) and answers the CPU seconds it spent meanwhile: what a round leaves
 * running (LMDB's write thread, a collection) must not fall into the other
 * server's round, slowing it, nor escape its own CPU figure.
 */
async function settle(server: ServerChild): Promise<number> {
  const deadline = performance.now() + 3000;
  const start = cpuSeconds(server.pid);
  for (;;) {
    const before = cpuSeconds(server.pid);
    await delay(200);
    const after = cpuSeconds(server.pid);
    if (!(after - before > 0.01) || performance.now() > deadline) return after - start;
  }
}

function meanFigures(figures: PushFigures[]): PushFigures {
  const mean = (pick: (f: PushFigures) => number) => figures.reduce((sum, f) => sum + pick(f), 0) / figures.length;
  return { rate: mean((f) => f.rate), cpuUsPerLine: mean((f) => f.cpuUsPerLine), lines: mean((f) => f.lines) };
}

export async function ingest(options: BenchOptions): Promise<Record<string, number>> {
  const baseline = await startBaseline('ingest-server.ts');
  let bare: PushFigures;
  let service: PushFigures;
  try {
    const server = await startLogService({ cpuProfDir: options.profileDir('ingest') });
    try {
      ({ bare, service } = await measureAlternating(baseline, server, options));
    } finally {
      await server.stop();
    }
  } finally {
    await baseline.stop();
  }
  return {
    lines_per_s: Math.round(service.rate),
    baseline_lines_per_s: Math.round(bare.rate),
    ratio: round(service.rate / bare.rate, 3),
    cpu_us_per_line: round(service.cpuUsPerLine, 3),
    baseline_cpu_us_per_line: round(bare.cpuUsPerLine, 3),
    cpu_ratio: round(service.cpuUsPerLine / bare.cpuUsPerLine, 2),
  };
}

export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
