// late_joiners (issue 18 §3): a writer pushes 200 000 lines of 100 bytes
// (quick: 50 000) with no reader, then 100 raw readers (`GET /stream/raw`
// from byte 0, 2 processes) fetch the whole log twice: live (the stream still
// open: a reader is done at the last byte) and after close (`DELETE
// ?snapshot=true`; the response ends after the last byte). Figures: each
// phase's time from the readers' first connect to the last reader's last
// byte, readers complete (every byte, no gap, the writer's CRC-32), and the
// ratio of each time to the baseline's: a bare node:http server serving the
// same bytes from a file (bench/baseline/file-http-server.ts) to the same
// readers. Configuration: a ring that holds the whole log
// (LOG_SERVICE_STREAM_MAX_LINES = the line count; with the default 10 000
// lines a late joiner gets 5 % of it, which is issue 18's first finding), and
// LOG_SERVICE_STREAM_CLOSED_GRACE_SECONDS=0, so the closed phase reads the
// finished log (the snapshot) and not the closed stream's memory.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sampleMemory, startBaseline, startGenerator, startLogService, type ServerChild } from '../lib/processes.ts';
import { round } from './ingest.ts';
import type { BenchOptions } from './options.ts';
import { completeReaders, lastDone, LINE_BYTES, startRawReaders, wholeLogRing, type WriterResult } from './raw-readers.ts';

const READERS = 100;
const BATCH_LINES = 1000;

interface Phase {
  complete: number;
  seconds: number;
}

async function fetchAll(target: ServerChild, path: string, written: WriterResult, timeoutMs: number): Promise<Phase> {
  const readers = startRawReaders(target.port, path, READERS, { epochMs: Date.now(), expectedBytes: written.bytes, timeoutMs });
  try {
    const seen = await Promise.all(readers.map((r) => r.result));
    const complete = completeReaders(seen, written);
    const start = Math.min(...seen.map((s) => s.connect_start_ms));
    return { complete, seconds: ((complete === READERS ? lastDone(seen) : start + timeoutMs) - start) / 1000 };
  } finally {
    for (const r of readers) r.kill();
  }
}

export async function lateJoiners(options: BenchOptions): Promise<Record<string, number | string>> {
  const lines = options.quick ? 50_000 : 200_000;
  const timeoutMs = options.quick ? 30_000 : 90_000;
  const dir = await mkdtemp(join(tmpdir(), 'log-service-bench-late-'));
  const file = join(dir, 'log.txt');
  const ring = wholeLogRing(lines);
  const env = { ...ring.env, LOG_SERVICE_STREAM_CLOSED_GRACE_SECONDS: '0' };
  process.stderr.write(`\n  late_joiners: server configured with ${ring.said}, LOG_SERVICE_STREAM_CLOSED_GRACE_SECONDS=0\n`);
  const key = 'late/1';
  const server = await startLogService({ env, cpuProfDir: options.profileDir('late_joiners') });
  try {
    const writer = startGenerator<WriterResult>(
      'text-push-writer.ts',
      {
        epochMs: Date.now(),
        port: server.port,
        path: `/stream?accountID=bench&key=${key}`,
        open: true,
        close: false,
        lines,
        batchLines: BATCH_LINES,
        lineBytes: LINE_BYTES,
        file,
      },
      timeoutMs + 30_000,
    );
    await writer.next(20_000);
    writer.send({ type: 'go' });
    const written = await writer.result;
    if (written.errors.length > 0) throw new Error(`writer: ${written.errors.join('; ')}`);
    const memory = sampleMemory(server.pid);
    const live = await fetchAll(server, `/stream/raw?accountID=bench&key=${key}`, written, timeoutMs);
    const closeStart = performance.now();
    const closed = await fetch(`${server.url}/stream?accountID=bench&key=${key}&snapshot=true`, { method: 'DELETE' });
    if (closed.status !== 204) throw new Error(`close: HTTP ${closed.status}`);
    const closeMs = performance.now() - closeStart;
    const finished = await fetchAll(server, `/stream/raw?accountID=bench&key=${key}`, written, timeoutMs);
    const peak = memory.stop();
    await server.stop();

    const baseline = await startBaseline('file-http-server.ts', [file]);
    let base: Phase;
    try {
      base = await fetchAll(baseline, '/raw?key=late', written, timeoutMs);
    } finally {
      await baseline.stop();
    }
    return {
      lines,
      readers: READERS,
      ring_max_lines: ring.maxLines,
      log_mb: round(written.bytes / 2 ** 20, 1),
      live_s: round(live.seconds, 2),
      closed_s: round(finished.seconds, 2),
      baseline_s: round(base.seconds, 2),
      live_ratio: round(live.seconds / base.seconds, 2),
      closed_ratio: round(finished.seconds / base.seconds, 2),
      live_complete: live.complete,
      closed_complete: finished.complete,
      baseline_complete: base.complete,
      close_snapshot_ms: round(closeMs, 0),
      peak_rss_mb: round(peak.peakRssMb, 1),
      peak_anon_mb: round(peak.peakAnonMb, 1),
    };
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
