// raw_fanout (issue 18 §3): one writer pushes 200 000 lines of 100 bytes
// (quick: 50 000) as fast as the server answers (text/plain PUTs of 1 000
// lines, one in flight) while 100 raw readers (`GET /stream/raw`, 2 processes)
// follow the stream from byte 0. Figures: MB/s ingested (the writer's bytes
// over its push time), time from the first push to the last reader's last
// byte, readers complete (every byte, no gap, CRC-32 equal to the writer's),
// the server's peak anonymous memory (RssAnon, sampled every 50 ms), and
// `ratio` = that time over the baseline's. Baseline, same run: a bare
// node:http server piping the same PUT bodies to 100 responses
// (bench/baseline/put-fanout-server.ts), read by the same readers.
// Configuration: the server runs with a ring that holds the whole log
// (LOG_SERVICE_STREAM_MAX_LINES = the line count, _MAX_BYTES = 512 MiB), so
// the figure is about the byte path, not about how many lines the ring keeps
// (with the default 10 000 lines, readers that fall behind lose the start).
import { cpuSeconds, sampleMemory, startBaseline, startGenerator, startLogService, type ServerChild } from '../lib/processes.ts';
import { round } from './ingest.ts';
import type { BenchOptions } from './options.ts';
import { completeReaders, lastDone, LINE_BYTES, startRawReaders, wholeLogRing, type WriterResult } from './raw-readers.ts';

const READERS = 100;
const BATCH_LINES = 1000;

interface Run {
  written: WriterResult;
  complete: number;
  seconds: number;
  peakAnonMb: number;
  /** The server's CPU seconds (user + system, every thread) from the go to the last reader's last byte. */
  cpuSeconds: number;
  peakRssMb: number;
}

async function fanOut(target: ServerChild, writerPath: string, readerPath: string, lines: number, timeoutMs: number): Promise<Run> {
  const epochMs = Date.now();
  const gens: { kill(): void }[] = [];
  try {
    const writer = startGenerator<WriterResult>(
      'text-push-writer.ts',
      { epochMs, port: target.port, path: writerPath, open: true, close: true, lines, batchLines: BATCH_LINES, lineBytes: LINE_BYTES },
      timeoutMs + 30_000,
    );
    gens.push(writer);
    await writer.next(20_000); // opened
    const readers = startRawReaders(target.port, readerPath, READERS, { epochMs, expectedBytes: lines * LINE_BYTES, timeoutMs });
    gens.push(...readers);
    for (const r of readers) await r.next(30_000); // every reader has its response head
    const memory = sampleMemory(target.pid);
    const cpu0 = cpuSeconds(target.pid);
    writer.send({ type: 'go' });
    const written = await writer.result;
    if (written.errors.length > 0) throw new Error(`writer: ${written.errors.join('; ')}\n${target.output().slice(-1000)}`);
    const seen = await Promise.all(readers.map((r) => r.result));
    const peak = memory.stop();
    const cpu = cpuSeconds(target.pid) - cpu0;
    const complete = completeReaders(seen, written);
    const last = complete === READERS ? lastDone(seen) : epochMs + timeoutMs;
    return { written, complete, seconds: (last - written.start_ms) / 1000, peakAnonMb: peak.peakAnonMb, peakRssMb: peak.peakRssMb, cpuSeconds: cpu };
  } finally {
    for (const g of gens) g.kill();
  }
}

export async function rawFanout(options: BenchOptions): Promise<Record<string, number | string>> {
  const lines = options.quick ? 50_000 : 200_000;
  const timeoutMs = options.quick ? 45_000 : 120_000;
  const ringSetting = wholeLogRing(lines);
  const ring = ringSetting.env;
  process.stderr.write(`\n  raw_fanout: server configured with ${ringSetting.said}\n`);

  const baseline = await startBaseline('put-fanout-server.ts');
  let base: Run;
  try {
    base = await fanOut(baseline, '/stream?key=raw', '/raw?key=raw', lines, timeoutMs);
  } finally {
    await baseline.stop();
  }
  const server = await startLogService({ env: ring, cpuProfDir: options.profileDir('raw_fanout') });
  let run: Run;
  try {
    run = await fanOut(server, '/stream?accountID=bench&key=raw/1', '/stream/raw?accountID=bench&key=raw/1', lines, timeoutMs);
  } finally {
    await server.stop();
  }
  const mbPerS = (r: Run) => r.written.bytes / 2 ** 20 / ((r.written.end_ms - r.written.start_ms) / 1000);
  return {
    lines,
    readers: READERS,
    ring_max_lines: ringSetting.maxLines,
    log_mb: round(run.written.bytes / 2 ** 20, 1),
    ingest_mb_per_s: round(mbPerS(run), 1),
    baseline_ingest_mb_per_s: round(mbPerS(base), 1),
    last_byte_s: round(run.seconds, 2),
    baseline_last_byte_s: round(base.seconds, 2),
    ratio: round(run.seconds / base.seconds, 2),
    server_cpu_s: round(run.cpuSeconds, 2),
    baseline_server_cpu_s: round(base.cpuSeconds, 2),
    cpu_ratio: round(run.cpuSeconds / base.cpuSeconds, 2),
    readers_complete: run.complete,
    baseline_readers_complete: base.complete,
    peak_rss_mb: round(run.peakRssMb, 1),
    peak_anon_mb: round(run.peakAnonMb, 1),
    baseline_peak_anon_mb: round(base.peakAnonMb, 1),
  };
}
