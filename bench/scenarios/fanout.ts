// fanout: 100 SSE viewers of one stream while a producer pushes 50 000 lines/s.
// Latency = receive time − push time written into each line; `lost` = lines a
// viewer missed or got twice (gaps, duplicates, `dropped` ranges).
// CPU: the server's CPU seconds (user + system, from the first push until
// every viewer had the end) per million lines delivered to viewers, beside the
// same figure for a bare node:http server fanning the same lines out as SSE to
// the same viewers (bench/baseline/sse-fanout-server.ts), measured after it in
// the same run with the same producer and viewers.
import { cpuSeconds, startBaseline, startGenerator, startLogService, type ServerChild } from '../lib/processes.ts';
import { round } from './ingest.ts';
import { histogramPercentile } from './raw-readers.ts';
import type { BenchOptions } from './options.ts';

interface ProducerResult {
  lines: number;
  batches: number;
  max_batch: number;
  start_ms: number;
  elapsed_ms: number;
  publish_lines_per_s: number;
  errors: string[];
}
interface ViewerStats {
  next: number;
  received: number;
  missing: number;
  duplicates: number;
  dropped: number;
  ended: boolean;
  lastAt: number;
}
interface ViewersResult {
  viewers: ViewerStats[];
  histogram: Record<string, number>;
  /** Absent when no warm-up was asked for. */
  steady_histogram?: Record<string, number>;
  bucket_ms: number;
}

const VIEWERS = 100;
/**
 * Viewer processes sharing the 100 viewers. On this 2-core machine 2 is the
 * measured sweet spot (BENCHMARKS.md): 4 processes add run-queue contention
 * with the server (p99 131-256 ms against 103-118 ms), 1 cannot parse 5 M
 * events/s without lagging (p99 199-328 ms).
 */
const VIEWER_PROCESSES = 2;
const RATE = 50_000;
/** Padding characters after the stamp in each line (the line's `out` is about 80 characters). */
const LINE_PAD = 60;

interface Measured {
  produced: ProducerResult;
  stats: ViewerStats[];
  /** Every line's latency, one histogram per viewer process. */
  histograms: Record<string, number>[];
  /** Lines pushed after the warm-up. */
  steady: Record<string, number>[];
  bucketMs: number;
  /** CPU seconds the serving process used from the first push until every viewer had the end. */
  cpuSeconds: number;
}

/** One run of the load against `target` (the service, or the bare-SSE baseline). */
async function measure(target: ServerChild, label: string, durationMs: number, warmupMs: number): Promise<Measured> {
  const gens: { kill(): void }[] = [];
  try {
    const key = 'fanout/1';
    const epochMs = Date.now();
    const producer = startGenerator<ProducerResult>(
      'fanout-producer.ts',
      {
        epochMs,
        port: target.port,
        account: 'bench',
        key,
        rate: RATE,
        durationMs,
        lineChars: LINE_PAD,
        maxBatch: 20_000,
      },
      durationMs + 60_000,
    );
    gens.push(producer);
    await producer.next(20_000); // opened
    const perProcess = VIEWERS / VIEWER_PROCESSES;
    const viewerGens = Array.from({ length: VIEWER_PROCESSES }, () =>
      startGenerator<ViewersResult>(
        'sse-viewers.ts',
        {
          epochMs,
          port: target.port,
          path: `/stream?accountID=bench&key=${encodeURIComponent(key)}`,
          viewers: perProcess,
          minTail: LINE_PAD,
          warmupMs,
          timeoutMs: durationMs + 45_000,
        },
        durationMs + 60_000,
      ),
    );
    gens.push(...viewerGens);
    for (const g of viewerGens) await g.next(30_000); // every viewer connected
    const cpuAt = () => ({
      server: cpuSeconds(target.pid),
      serverSys: cpuSeconds(target.pid, 'system'),
      viewers: viewerGens.reduce((a, g) => a + cpuSeconds(g.pid), 0),
      viewersSys: viewerGens.reduce((a, g) => a + cpuSeconds(g.pid, 'system'), 0),
      producer: cpuSeconds(producer.pid),
    });
    const cpu0 = cpuAt();
    producer.send({ type: 'go' });
    const produced = await producer.result.finally(() => {
      const cpu1 = cpuAt();
      const secs = durationMs / 1000;
      process.stderr.write(
        `\n  ${label}: CPU cores used while pushing: server ${((cpu1.server - cpu0.server) / secs).toFixed(2)} (kernel ${((cpu1.serverSys - cpu0.serverSys) / secs).toFixed(2)}), ` +
          `viewer processes ${((cpu1.viewers - cpu0.viewers) / secs).toFixed(2)} (kernel ${((cpu1.viewersSys - cpu0.viewersSys) / secs).toFixed(2)}), producer ${((cpu1.producer - cpu0.producer) / secs).toFixed(2)}\n`,
      );
    });
    if (produced.errors.length > 0) throw new Error(`producer: ${produced.errors.join('; ')}`);
    const seen = await Promise.all(viewerGens.map((g) => g.result));
    const cpuSpent = cpuSeconds(target.pid) - cpu0.server;

    return {
      produced,
      stats: seen.flatMap((s) => s.viewers),
      histograms: seen.map((s) => s.histogram),
      steady: seen.map((s) => s.steady_histogram ?? s.histogram),
      bucketMs: seen[0]?.bucket_ms ?? 0.1,
      cpuSeconds: cpuSpent,
    };
  } finally {
    for (const g of gens) g.kill();
  }
}

function figures(m: Measured, label: string) {
  const { produced, stats, bucketMs } = m;
  let lost = 0;
  let received = 0;
  let lastAt = 0;
  for (const v of stats) {
    lost += v.missing + Math.max(0, produced.lines - v.next) + v.duplicates;
    received += v.received;
    lastAt = Math.max(lastAt, v.lastAt);
  }
  lost += (VIEWERS - stats.length) * produced.lines; // viewers that never connected
  const unended = stats.filter((v) => !v.ended).length;
  if (unended > 0) process.stderr.write(`\n  ${label}: ${unended} viewers did not get the terminal event\n`);
  const percentile = (p: number, histograms = m.steady) => histogramPercentile(histograms, bucketMs, p);
  return {
    publish_lines_per_s: Math.round(produced.publish_lines_per_s),
    viewers: stats.length,
    delivered_lines_per_s: Math.round(received / ((lastAt - produced.start_ms) / 1000)),
    p50_ms: round(percentile(0.5), 1),
    p99_ms: round(percentile(0.99), 1),
    p99_all_ms: round(percentile(0.99, m.histograms), 1),
    lost,
    cpu_s_per_m_lines: round(m.cpuSeconds / (received / 1e6), 3),
  };
}

export async function fanout(options: BenchOptions): Promise<Record<string, number>> {
  const durationMs = options.quick ? 5000 : 20_000;
  // p50/p99 are the steady state: lines pushed after this warm-up (the server's code is still being
  // optimised at first). p99_all_ms counts every line.
  const warmupMs = options.quick ? 1000 : 2000;
  const server = await startLogService({ cpuProfDir: options.profileDir('fanout') });
  let service: ReturnType<typeof figures>;
  try {
    service = figures(await measure(server, 'fanout', durationMs, warmupMs), 'fanout');
  } finally {
    await server.stop();
  }
  const baseline = await startBaseline('sse-fanout-server.ts');
  let bare: ReturnType<typeof figures>;
  try {
    bare = figures(await measure(baseline, 'fanout baseline', durationMs, warmupMs), 'fanout baseline');
  } finally {
    await baseline.stop();
  }
  return {
    ...service,
    baseline_cpu_s_per_m_lines: bare.cpu_s_per_m_lines,
    cpu_ratio: round(service.cpu_s_per_m_lines / bare.cpu_s_per_m_lines, 2),
    baseline_p50_ms: bare.p50_ms,
    baseline_p99_ms: bare.p99_ms,
    baseline_p99_all_ms: bare.p99_all_ms,
    warmup_ms: warmupMs,
    baseline_lost: bare.lost,
  };
}
