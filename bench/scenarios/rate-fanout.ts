// rate_fanout (issue 18 §3): a writer pushes 50 000 lines/s of 100 bytes for
// 20 s (quick: 5 s) as text/plain (whatever fell due goes in the next PUT,
// one in flight), then closes the stream, while 100 raw readers
// (`GET /stream/raw` from byte 0, 2 processes, bench/gen/raw-readers.ts) and
// 100 SSE viewers (`GET /stream`, 2 processes, bench/gen/sse-viewers.ts)
// follow it. A raw reader is complete when it got every byte with no gap and
// the writer's CRC-32 (a response that ends at a gap is resumed by offset,
// docs/PROTOCOL.md §7, and the gap counted); an SSE viewer when it got every
// id once, no `dropped` and the terminal event. Latency: receive time − the
// `ts=` stamp in the line (SSE: every line; raw: the newest whole line of
// each piece of body), p99 over each kind. The server runs with its default
// configuration (a ring of 10 000 lines, 0.2 s of this load): a reader that
// falls further behind than the ring needs the archive (issue 18 §1).
import { cpuSeconds, sampleMemory, startBaseline, startGenerator, startLogService } from '../lib/processes.ts';
import { round } from './ingest.ts';
import type { BenchOptions } from './options.ts';
import { completeReaders, histogramPercentile, LINE_BYTES, READER_PROCESSES, startRawReaders, type ReadersResult, type WriterResult } from './raw-readers.ts';

interface ViewersResult {
  viewers: { next: number; received: number; missing: number; duplicates: number; dropped: number; ended: boolean }[];
  histogram: Record<string, number>;
  steady_histogram?: Record<string, number>;
  bucket_ms: number;
}

const RAW_READERS = 100;
const SSE_VIEWERS = 100;
const RATE = 50_000;

/** The figures of one run against one server (the service or the bare baseline). */
interface RunFigures {
  written: WriterResult;
  rawSeen: ReadersResult[];
  viewers: ViewersResult['viewers'];
  /** p99 of lines stamped after the warm-up, and of every line. */
  rawP99: number;
  sseP99: number;
  rawP99All: number;
  sseP99All: number;
  cpuSeconds: number;
  peakRssMb: number;
  peakAnonMb: number;
}

/** One run of the load against the server on `port`: the writer at RATE, RAW_READERS raw readers and SSE_VIEWERS viewers. */
async function runLoad(port: number, pid: number, options: BenchOptions): Promise<RunFigures> {
  const durationMs = options.quick ? 5000 : 20_000;
  const timeoutMs = durationMs + (options.quick ? 20_000 : 45_000);
  const warmupMs = warmupOf(options);
  const gens: { kill(): void }[] = [];
  try {
    const key = 'rate/1';
    const epochMs = Date.now();
    const writer = startGenerator<WriterResult>(
      'text-push-writer.ts',
      {
        epochMs,
        port,
        path: `/stream?accountID=bench&key=${key}`,
        open: true,
        close: true,
        lines: 0,
        batchLines: 20_000,
        lineBytes: LINE_BYTES,
        rate: RATE,
        durationMs,
      },
      timeoutMs + 30_000,
    );
    gens.push(writer);
    await writer.next(20_000);
    const raw = startRawReaders(port, `/stream/raw?accountID=bench&key=${key}`, RAW_READERS, { epochMs, timeoutMs, warmupMs });
    gens.push(...raw);
    const sse = Array.from({ length: READER_PROCESSES }, () =>
      startGenerator<ViewersResult>(
        'sse-viewers.ts',
        {
          epochMs,
          port,
          path: `/stream?accountID=bench&key=${key}`,
          viewers: SSE_VIEWERS / READER_PROCESSES,
          // Bytes after the stamp a viewer may skip unscanned: each 100-byte line has ≥ 85 (` n=…`, padding,
          // `\n`) while its stamp (µs since the run's epoch) has at most 12 digits.
          minTail: 80,
          timeoutMs,
          warmupMs,
        },
        timeoutMs + 30_000,
      ),
    );
    gens.push(...sse);
    for (const g of [...raw, ...sse]) await g.next(30_000);
    const memory = sampleMemory(pid);
    const cpu0 = cpuSeconds(pid);
    writer.send({ type: 'go' });
    const written = await writer.result;
    const cpu1 = cpuSeconds(pid);
    if (written.errors.length > 0) throw new Error(`writer: ${written.errors.join('; ')}`);
    for (const g of raw) g.send({ type: 'expect', bytes: written.bytes });
    const rawSeen = await Promise.all(raw.map((g) => g.result));
    const sseSeen = await Promise.all(sse.map((g) => g.result));
    const peak = memory.stop();
    return {
      written,
      rawSeen,
      viewers: sseSeen.flatMap((s) => s.viewers),
      rawP99: p99(rawSeen, true),
      sseP99: p99(sseSeen, true),
      rawP99All: p99(rawSeen, false),
      sseP99All: p99(sseSeen, false),
      cpuSeconds: cpu1 - cpu0,
      peakRssMb: peak.peakRssMb,
      peakAnonMb: peak.peakAnonMb,
    };
  } finally {
    for (const g of gens) g.kill();
  }
}

/**
 * Lines stamped this long after the first are the steady state (as in fanout):
 * a freshly started server's first seconds are V8 still optimising its code.
 */
function warmupOf(options: BenchOptions): number {
  return options.quick ? 1000 : 2000;
}

/** The p99 latency over the processes' merged histograms: of the lines after the warm-up (`steady`), or of every line. */
function p99(results: { histogram: Record<string, number>; steady_histogram?: Record<string, number>; bucket_ms: number }[], steady: boolean): number {
  const histograms = results.map((r) => (steady ? (r.steady_histogram ?? r.histogram) : r.histogram));
  return histogramPercentile(histograms, results[0]?.bucket_ms ?? 0.1, 0.99);
}

function sseComplete(run: RunFigures): number {
  return run.viewers.filter((v) => v.next === run.written.lines && v.missing === 0 && v.duplicates === 0 && v.dropped === 0 && v.ended).length;
}

export async function rateFanout(options: BenchOptions): Promise<Record<string, number | string>> {
  const server = await startLogService({ cpuProfDir: options.profileDir('rate_fanout') });
  let run: RunFigures;
  try {
    run = await runLoad(server.port, server.pid, options);
  } finally {
    await server.stop();
  }
  const baseline = await startBaseline('rate-fanout-server.ts');
  let bare: RunFigures;
  try {
    bare = await runLoad(baseline.port, baseline.pid, options);
  } finally {
    await baseline.stop();
  }
  const { written, viewers } = run;
  const rawReaders = run.rawSeen.flatMap((r) => r.readers);
  const seconds = (written.end_ms - written.start_ms) / 1000;
  const bareSeconds = (bare.written.end_ms - bare.written.start_ms) / 1000;
  return {
    publish_lines_per_s: Math.round(written.lines / seconds),
    lines: written.lines,
    pushes_per_s: round(written.batches / seconds, 1),
    raw_readers: rawReaders.length,
    sse_viewers: viewers.length,
    raw_complete: completeReaders(run.rawSeen, written),
    sse_complete: sseComplete(run),
    raw_gap_mb: round(rawReaders.reduce((a, r) => a + r.skipped, 0) / 2 ** 20, 1),
    // A reader that follows to the end asks twice: its first GET, and one more that finds the end.
    raw_resumes: rawReaders.reduce((a, r) => a + Math.max(0, r.requests - 2), 0),
    sse_dropped_events: viewers.reduce((a, v) => a + v.dropped, 0),
    sse_lost_lines: viewers.reduce((a, v) => a + v.missing + v.duplicates + Math.max(0, written.lines - v.next), 0),
    raw_p99_ms: round(run.rawP99, 1),
    sse_p99_ms: round(run.sseP99, 1),
    raw_p99_all_ms: round(run.rawP99All, 1),
    sse_p99_all_ms: round(run.sseP99All, 1),
    warmup_ms: warmupOf(options),
    server_cores: round(run.cpuSeconds / seconds, 2),
    peak_rss_mb: round(run.peakRssMb, 1),
    peak_anon_mb: round(run.peakAnonMb, 1),
    baseline_publish_lines_per_s: Math.round(bare.written.lines / bareSeconds),
    baseline_pushes_per_s: round(bare.written.batches / bareSeconds, 1),
    baseline_raw_complete: completeReaders(bare.rawSeen, bare.written),
    baseline_sse_complete: sseComplete(bare),
    baseline_raw_p99_ms: round(bare.rawP99, 1),
    baseline_sse_p99_ms: round(bare.sseP99, 1),
    baseline_raw_p99_all_ms: round(bare.rawP99All, 1),
    baseline_sse_p99_all_ms: round(bare.sseP99All, 1),
    baseline_server_cores: round(bare.cpuSeconds / bareSeconds, 2),
    baseline_peak_anon_mb: round(bare.peakAnonMb, 1),
  };
}
