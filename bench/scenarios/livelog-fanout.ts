// livelog_fanout (issue 13): `log-service livelog` as taskcluster workers use
// it — one producer pipes 200 000 lines of 100 bytes (quick: 50 000) through
// one long PUT at full speed while 100 readers (2 processes) read
// `/log/<token>` from byte 0. Figures: MB/s the producer got through, time
// from its first byte to the last reader's last byte, readers incomplete
// (every byte, CRC-32 equal to the producer's; must be 0), and the livelog
// process's peak anonymous memory. Baseline, same run: a bare node:http
// server piping the PUT body to 100 responses and ending them with it
// (bench/baseline/put-fanout-server.ts end-with-put), read by the same
// readers. livelog runs on its defaults (memory streams, the archive in an
// LMDB file in its temp dir, the 10,000-line ring): readers behind the ring
// read the archive.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuSeconds, REPO_ROOT, sampleMemory, sleep, startBaseline, startGenerator, type ServerChild } from '../lib/processes.ts';
import { round } from './ingest.ts';
import type { BenchOptions } from './options.ts';
import { completeReaders, lastDone, LINE_BYTES, startRawReaders, type WriterResult } from './raw-readers.ts';

const READERS = 100;
const BATCH_LINES = 1000;
const TOKEN = 'bench-token';

interface Run {
  written: WriterResult;
  complete: number;
  seconds: number;
  peakAnonMb: number;
  /** The server's CPU seconds (user + system, every thread) from the go to the last reader's last byte. */
  cpuSeconds: number;
}

/** `log-service livelog` on ports the OS picks; `port` is the GET port, `putPort` the producer's. */
async function startLivelogProcess(profileDir: string | undefined): Promise<ServerChild & { putPort: number }> {
  const temp = await mkdtemp(join(tmpdir(), 'livelog-bench-'));
  const nodeArgs = profileDir !== undefined ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  const child = spawn(process.execPath, [...nodeArgs, join(REPO_ROOT, 'bin/log-service.js'), 'livelog'], {
    cwd: temp,
    env: {
      ...process.env,
      ACCESS_TOKEN: TOKEN,
      LIVELOG_PUT_PORT: '0',
      LIVELOG_GET_PORT: '0',
      LIVELOG_BIND_ADDRESS: '127.0.0.1',
      LIVELOG_TEMP_DIR: temp,
      LOG_SERVICE_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (c: Buffer) => (log = (log + c.toString('utf8')).slice(-20_000)));
  child.stderr.on('data', (c: Buffer) => (log = (log + c.toString('utf8')).slice(-20_000)));
  const deadline = Date.now() + 20_000;
  let ports: RegExpExecArray | null;
  for (;;) {
    ports = /livelog: PUT port (\d+), GET port (\d+)/.exec(log);
    if (ports !== null) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`livelog did not start:\n${log.slice(-2000)}`);
    }
    await sleep(50);
  }
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return {
    url: `http://127.0.0.1:${ports[2]}`,
    port: Number(ports[2]),
    putPort: Number(ports[1]),
    pid: child.pid!,
    dataDir: temp,
    output: () => log,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(temp, { recursive: true, force: true });
    },
  };
}

async function fanOut(getPort: number, putPort: number, pid: number, readerPath: string, lines: number, timeoutMs: number): Promise<Run> {
  const epochMs = Date.now();
  const gens: { kill(): void }[] = [];
  try {
    const writer = startGenerator<WriterResult>(
      'stream-put-writer.ts',
      { epochMs, port: putPort, path: '/log', lines, batchLines: BATCH_LINES, lineBytes: LINE_BYTES },
      timeoutMs + 30_000,
    );
    gens.push(writer);
    await writer.next(20_000); // ready
    const readers = startRawReaders(getPort, readerPath, READERS, { epochMs, expectedBytes: lines * LINE_BYTES, timeoutMs, resumes: false });
    gens.push(...readers);
    for (const r of readers) await r.next(30_000); // every reader has its response head
    const memory = sampleMemory(pid);
    const cpu0 = cpuSeconds(pid);
    writer.send({ type: 'go' });
    const written = await writer.result;
    if (written.errors.length > 0) throw new Error(`producer: ${written.errors.join('; ')}`);
    const seen = await Promise.all(readers.map((r) => r.result));
    const peak = memory.stop();
    const cpu = cpuSeconds(pid) - cpu0;
    const complete = completeReaders(seen, written);
    const last = complete === READERS ? lastDone(seen) : epochMs + timeoutMs;
    return { written, complete, seconds: (last - written.start_ms) / 1000, peakAnonMb: peak.peakAnonMb, cpuSeconds: cpu };
  } finally {
    for (const g of gens) g.kill();
  }
}

export async function livelogFanout(options: BenchOptions): Promise<Record<string, number | string>> {
  const lines = options.quick ? 50_000 : 200_000;
  const timeoutMs = options.quick ? 45_000 : 120_000;
  const baseline = await startBaseline('put-fanout-server.ts', ['end-with-put']);
  let base: Run;
  try {
    base = await fanOut(baseline.port, baseline.port, baseline.pid, '/log/x', lines, timeoutMs);
  } finally {
    await baseline.stop();
  }
  const livelog = await startLivelogProcess(options.profileDir('livelog_fanout'));
  let run: Run;
  try {
    run = await fanOut(livelog.port, livelog.putPort, livelog.pid, `/log/${TOKEN}`, lines, timeoutMs);
  } finally {
    await livelog.stop();
  }
  const mbPerS = (r: Run) => r.written.bytes / 2 ** 20 / ((r.written.closed_ms - r.written.start_ms) / 1000);
  return {
    lines,
    readers: READERS,
    log_mb: round(run.written.bytes / 2 ** 20, 1),
    put_mb_per_s: round(mbPerS(run), 1),
    baseline_put_mb_per_s: round(mbPerS(base), 1),
    delivered_mb_per_s: round((run.written.bytes * run.complete) / 2 ** 20 / run.seconds, 1),
    baseline_delivered_mb_per_s: round((base.written.bytes * base.complete) / 2 ** 20 / base.seconds, 1),
    last_byte_s: round(run.seconds, 2),
    baseline_last_byte_s: round(base.seconds, 2),
    ratio: round(run.seconds / base.seconds, 2),
    server_cpu_s: round(run.cpuSeconds, 2),
    baseline_server_cpu_s: round(base.cpuSeconds, 2),
    cpu_ratio: round(run.cpuSeconds / base.cpuSeconds, 2),
    readers_incomplete: READERS - run.complete,
    baseline_readers_incomplete: READERS - base.complete,
    peak_anon_mb: round(run.peakAnonMb, 1),
    baseline_peak_anon_mb: round(base.peakAnonMb, 1),
  };
}
