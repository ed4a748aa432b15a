// fanout: 100 SSE viewers of one stream while a producer pushes 50 000 lines/s.
// Latency = receive time − push time written into each line; `lost` = lines a
// viewer missed or got twice (gaps, duplicates, `dropped` ranges).
import { cpuSeconds, startGenerator, startLogService } from '../lib/processes.ts';
import { round } from './ingest.ts';
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

export async function fanout(options: BenchOptions): Promise<Record<string, number>> {
  const durationMs = options.quick ? 5000 : 20_000;
  const server = await startLogService({ cpuProfDir: options.profileDir('fanout') });
  const gens: { kill(): void }[] = [];
  try {
    const key = 'fanout/1';
    const epochMs = Date.now();
    const producer = startGenerator<ProducerResult>(
      'fanout-producer.ts',
      {
        epochMs,
        port: server.port,
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
          port: server.port,
          path: `/stream?accountID=bench&key=${encodeURIComponent(key)}`,
          viewers: perProcess,
          minTail: LINE_PAD,
          timeoutMs: durationMs + 45_000,
        },
        durationMs + 60_000,
      ),
    );
    gens.push(...viewerGens);
    for (const g of viewerGens) await g.next(30_000); // every viewer connected
    const cpuAt = () => ({
      server: cpuSeconds(server.pid),
      serverSys: cpuSeconds(server.pid, 'system'),
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
        `\n  fanout: CPU cores used while pushing: server ${((cpu1.server - cpu0.server) / secs).toFixed(2)} (kernel ${((cpu1.serverSys - cpu0.serverSys) / secs).toFixed(2)}), ` +
          `viewer processes ${((cpu1.viewers - cpu0.viewers) / secs).toFixed(2)} (kernel ${((cpu1.viewersSys - cpu0.viewersSys) / secs).toFixed(2)}), producer ${((cpu1.producer - cpu0.producer) / secs).toFixed(2)}\n`,
      );
    });
    if (produced.errors.length > 0) throw new Error(`producer: ${produced.errors.join('; ')}`);
    const seen = await Promise.all(viewerGens.map((g) => g.result));

    const stats = seen.flatMap((s) => s.viewers);
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
    if (unended > 0) process.stderr.write(`\n  fanout: ${unended} viewers did not get the terminal event\n`);

    const histogram = new Map<number, number>();
    for (const s of seen) for (const [b, n] of Object.entries(s.histogram)) histogram.set(Number(b), (histogram.get(Number(b)) ?? 0) + n);
    const bucketMs = seen[0]?.bucket_ms ?? 0.1;
    const percentile = (p: number) => {
      const total = [...histogram.values()].reduce((a, b) => a + b, 0);
      let acc = 0;
      for (const b of [...histogram.keys()].sort((x, y) => x - y)) {
        acc += histogram.get(b)!;
        if (acc >= total * p) return (b + 1) * bucketMs;
      }
      return NaN;
    };
    return {
      publish_lines_per_s: Math.round(produced.publish_lines_per_s),
      viewers: stats.length,
      delivered_lines_per_s: Math.round(received / ((lastAt - produced.start_ms) / 1000)),
      p50_ms: round(percentile(0.5), 1),
      p99_ms: round(percentile(0.99), 1),
      lost,
    };
  } finally {
    for (const g of gens) g.kill();
    await server.stop();
  }
}
