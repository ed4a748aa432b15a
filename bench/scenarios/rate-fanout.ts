// rate_fanout (issue 18 §3): a writer pushes 50 000 lines/s of 100 bytes for
// 20 s (quick: 5 s) as text/plain (whatever fell due goes in the next PUT,
// one in flight), then closes the stream, while 100 raw readers
// (`GET /stream/raw` from byte 0, 2 processes, bench/gen/raw-readers.ts) and
// 100 SSE viewers (`GET /stream`, 2 processes, bench/gen/sse-viewers.ts)
// follow it. A raw reader is complete when it got every byte with no gap and
// the writer's sha256 (a response that ends at a gap is resumed by offset,
// docs/PROTOCOL.md §7, and the gap counted); an SSE viewer when it got every
// id once, no `dropped` and the terminal event. Latency: receive time − the
// `ts=` stamp in the line (SSE: every line; raw: the newest whole line of
// each piece of body), p99 over each kind. The server runs with its default
// configuration (a ring of 10 000 lines, 0.2 s of this load): a reader that
// falls further behind than the ring needs the archive (issue 18 §1).
import { cpuSeconds, sampleMemory, startGenerator, startLogService } from '../lib/processes.ts';
import { round } from './ingest.ts';
import type { BenchOptions } from './options.ts';
import { completeReaders, histogramPercentile, LINE_BYTES, READER_PROCESSES, startRawReaders, type WriterResult } from './raw-readers.ts';

interface ViewersResult {
  viewers: { next: number; received: number; missing: number; duplicates: number; dropped: number; ended: boolean }[];
  histogram: Record<string, number>;
  bucket_ms: number;
}

const RAW_READERS = 100;
const SSE_VIEWERS = 100;
const RATE = 50_000;

export async function rateFanout(options: BenchOptions): Promise<Record<string, number | string>> {
  const durationMs = options.quick ? 5000 : 20_000;
  const timeoutMs = durationMs + (options.quick ? 20_000 : 45_000);
  const server = await startLogService({ cpuProfDir: options.profileDir('rate_fanout') });
  const gens: { kill(): void }[] = [];
  try {
    const key = 'rate/1';
    const epochMs = Date.now();
    const writer = startGenerator<WriterResult>(
      'text-push-writer.ts',
      {
        epochMs,
        port: server.port,
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
    const raw = startRawReaders(server.port, `/stream/raw?accountID=bench&key=${key}`, RAW_READERS, { epochMs, timeoutMs });
    gens.push(...raw);
    const sse = Array.from({ length: READER_PROCESSES }, () =>
      startGenerator<ViewersResult>(
        'sse-viewers.ts',
        {
          epochMs,
          port: server.port,
          path: `/stream?accountID=bench&key=${key}`,
          viewers: SSE_VIEWERS / READER_PROCESSES,
          // Bytes after the stamp a viewer may skip unscanned: each line has ≥ 70 (` n=…`, padding, `\n`).
          minTail: 50,
          timeoutMs,
        },
        timeoutMs + 30_000,
      ),
    );
    gens.push(...sse);
    for (const g of [...raw, ...sse]) await g.next(30_000);
    const memory = sampleMemory(server.pid);
    const cpu0 = cpuSeconds(server.pid);
    writer.send({ type: 'go' });
    const written = await writer.result;
    const cpu1 = cpuSeconds(server.pid);
    if (written.errors.length > 0) throw new Error(`writer: ${written.errors.join('; ')}`);
    for (const g of raw) g.send({ type: 'expect', bytes: written.bytes });
    const rawSeen = await Promise.all(raw.map((g) => g.result));
    const sseSeen = await Promise.all(sse.map((g) => g.result));
    const peak = memory.stop();

    const viewers = sseSeen.flatMap((s) => s.viewers);
    const sseComplete = viewers.filter((v) => v.next === written.lines && v.missing === 0 && v.duplicates === 0 && v.dropped === 0 && v.ended).length;
    const rawReaders = rawSeen.flatMap((r) => r.readers);
    const rawP99 = histogramPercentile(
      rawSeen.map((r) => r.histogram),
      rawSeen[0]?.bucket_ms ?? 0.5,
      0.99,
    );
    const sseP99 = histogramPercentile(
      sseSeen.map((s) => s.histogram),
      sseSeen[0]?.bucket_ms ?? 0.1,
      0.99,
    );
    const seconds = (written.end_ms - written.start_ms) / 1000;
    return {
      publish_lines_per_s: Math.round(written.lines / seconds),
      lines: written.lines,
      raw_readers: rawReaders.length,
      sse_viewers: viewers.length,
      raw_complete: completeReaders(rawSeen, written),
      sse_complete: sseComplete,
      raw_gap_mb: round(rawReaders.reduce((a, r) => a + r.skipped, 0) / 2 ** 20, 1),
      // A reader that follows to the end asks twice: its first GET, and one more that finds the end.
      raw_resumes: rawReaders.reduce((a, r) => a + Math.max(0, r.requests - 2), 0),
      sse_dropped_events: viewers.reduce((a, v) => a + v.dropped, 0),
      sse_lost_lines: viewers.reduce((a, v) => a + v.missing + v.duplicates + Math.max(0, written.lines - v.next), 0),
      raw_p99_ms: round(rawP99, 1),
      sse_p99_ms: round(sseP99, 1),
      server_cores: round((cpu1 - cpu0) / seconds, 2),
      peak_rss_mb: round(peak.peakRssMb, 1),
      peak_anon_mb: round(peak.peakAnonMb, 1),
    };
  } finally {
    for (const g of gens) g.kill();
    await server.stop();
  }
}
