// What raw_fanout, late_joiners and rate_fanout share: the text writer's and
// the raw readers' results (bench/gen/text-push-writer.ts, raw-readers.ts),
// starting reader processes, and reading their figures.
import { startGenerator, type GeneratorChild } from '../lib/processes.ts';

export interface WriterResult {
  lines: number;
  bytes: number;
  /** CRC-32 (zlib) of every byte written. */
  crc32: number;
  batches: number;
  start_ms: number;
  end_ms: number;
  closed_ms: number;
  errors: string[];
}

interface ReaderFigures {
  received: number;
  skipped: number;
  requests: number;
  status: string;
  done_at: number | null;
  /** CRC-32 of the bytes received (null: not done). */
  crc32: number | null;
}
export interface ReadersResult {
  connect_start_ms: number;
  readers: ReaderFigures[];
  histogram: Record<string, number>;
  /** With `warmupMs`: the lines stamped after the warm-up. */
  steady_histogram?: Record<string, number>;
  bucket_ms: number;
}

/** Reader processes sharing the readers (as fanout's viewers: 2 on this 2-core machine). */
export const READER_PROCESSES = 2;
/** Bytes per line (the issue's ~100-byte lines). */
export const LINE_BYTES = 100;

export function startRawReaders(
  port: number,
  path: string,
  readers: number,
  config: { epochMs: number; expectedBytes?: number; timeoutMs: number; resumes?: boolean; warmupMs?: number },
): GeneratorChild<ReadersResult>[] {
  return Array.from({ length: READER_PROCESSES }, () =>
    startGenerator<ReadersResult>('raw-readers.ts', { port, path, readers: readers / READER_PROCESSES, ...config }, config.timeoutMs + 30_000),
  );
}

/** A reader is complete when it got every byte, in order, with no gap, and their CRC-32 is the writer's. */
export function completeReaders(results: ReadersResult[], written: WriterResult): number {
  return results.flatMap((r) => r.readers).filter((r) => r.skipped === 0 && r.received === written.bytes && r.crc32 === written.crc32).length;
}

/** When the last reader that finished got its last byte (NaN if none did). */
export function lastDone(results: ReadersResult[]): number {
  const done = results.flatMap((r) => r.readers.flatMap((x) => (x.done_at === null ? [] : [x.done_at])));
  return done.length === 0 ? NaN : Math.max(...done);
}

/** The p-th percentile of the merged latency histograms, in ms. */
export function histogramPercentile(histograms: Record<string, number>[], bucketMs: number, p: number): number {
  const merged = new Map<number, number>();
  for (const h of histograms) for (const [b, n] of Object.entries(h)) merged.set(Number(b), (merged.get(Number(b)) ?? 0) + n);
  const total = [...merged.values()].reduce((a, b) => a + b, 0);
  let acc = 0;
  for (const b of [...merged.keys()].sort((x, y) => x - y)) {
    acc += merged.get(b)!;
    if (acc >= total * p) return (b + 1) * bucketMs;
  }
  return NaN;
}

/**
 * The ring raw_fanout and late_joiners give the server: by default one that
 * holds the whole log (the figures then measure the byte path alone, as they
 * did before the live archive); with BENCH_RING=default the server's default
 * ring (10,000 lines), so late joiners and readers behind read the archive.
 */
export function wholeLogRing(lines: number): { env: Record<string, string>; said: string; maxLines: number } {
  if (process.env.BENCH_RING === 'default') return { env: {}, said: 'the default ring (10,000 lines): history from the archive', maxLines: 10_000 };
  return {
    env: { LOG_SERVICE_STREAM_MAX_LINES: String(lines), LOG_SERVICE_STREAM_MAX_BYTES: String(512 * 2 ** 20) },
    said: `LOG_SERVICE_STREAM_MAX_LINES=${lines}, LOG_SERVICE_STREAM_MAX_BYTES=512MiB (a ring that holds the log; BENCH_RING=default for the default ring)`,
    maxLines: lines,
  };
}
