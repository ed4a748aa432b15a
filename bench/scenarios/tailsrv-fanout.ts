// tailsrv_fanout, two phases on real server processes.
// Full speed: `log-service tailsrv FILE` while a writer appends 200 000
// lines to FILE as fast as it can, followed by 100 clients from byte 0
// (header "0"). Figures: MB/s delivered (all clients' bytes over the time
// from the first append to the last client complete), p99 append→receipt
// (from the stamp in the last line of each chunk a client receives),
// clients incomplete, the server's peak anonymous memory. Baseline, same run:
// a bare node:net server piping the finished file to 100 sockets
// (bench/baseline/file-pipe-server.ts), read by the same clients.
// Paced (issue 17's figure, `paced_*`): `log-service tailsrv --dir` with
// 1,000 idle clients on one file and one client that never reads on another,
// which a writer appends 50 MB to (quick: 20 MB) at a steady 50 MB/s while
// four clients follow it from the start. Figures: p50/p99 append→receipt at
// the four (as above), how many of them did not get every byte (sha256 of
// what they received against the writer's), the server's peak anonymous
// memory, and how many idle or stalled clients were closed (none should be).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, procStatusMb, REPO_ROOT, sleep, startGenerator } from '../lib/processes.ts';
import { round } from './ingest.ts';
import type { BenchOptions } from './options.ts';

interface AppenderResult {
  start_ms: number;
  end_ms: number;
  bytes: number;
  sha256?: string;
}
interface ClientsResult {
  complete: number;
  clients: number;
  received: number;
  /** When the process started connecting its clients (the baseline serves from the connection on). */
  connect_start_ms: number;
  last_done_ms: number;
  histogram: Record<string, number>;
  bucket_ms: number;
  /** The sha256 of what each complete client received (with `sha256`). */
  digests?: string[];
}
interface HeldResult {
  idle_open: number;
  idle_bytes: number;
  stalled_open: number;
}

const CLIENTS = 100;
/** Client processes sharing the 100 clients (as fanout: 2 on this 2-core machine). */
const CLIENT_PROCESSES = 2;
const LINE_BYTES = 100;
const BATCH_LINES = 1000;
const READY_TIMEOUT_MS = 20_000;
/** The paced phase (issue 17's load figure). */
const PACED_IDLE = 1000;
const PACED_STALLED = 1;
const PACED_READERS = 4;
const PACED_MB_PER_S = 50;

interface TcpChild {
  pid: number;
  stop(): Promise<void>;
}

/** A server process, ready once its port takes a connection. */
async function startTcpChild(args: string[], port: number, cwd: string): Promise<TcpChild> {
  let output = '';
  const child: ChildProcess = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (c: Buffer) => (output = (output + c.toString('utf8')).slice(-5000)));
  child.stderr?.on('data', (c: Buffer) => (output = (output + c.toString('utf8')).slice(-5000)));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}): ${output}`);
    const ok = await new Promise<boolean>((done) => {
      const probe = connect(port, '127.0.0.1', () => {
        probe.destroy();
        done(true);
      });
      probe.once('error', () => done(false));
    });
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server on ${port} not ready within ${READY_TIMEOUT_MS} ms: ${output}`);
    }
    await sleep(100);
  }
  return {
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/** Samples RssAnon of `pid` every 50 ms until stopped; returns the peak in MB. */
function sampleAnonMemory(pid: number): { stop(): number } {
  let peak = 0;
  const sample = () => {
    try {
      peak = Math.max(peak, procStatusMb(pid, 'RssAnon'));
    } catch {
      // the process is gone
    }
  };
  sample();
  const timer = setInterval(sample, 50);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}

function clientGenerators(port: number, expectedBytes: number, measureLatency: boolean, timeoutMs: number) {
  return Array.from({ length: CLIENT_PROCESSES }, () =>
    startGenerator<ClientsResult>(
      'tailsrv-clients.ts',
      { port, clients: CLIENTS / CLIENT_PROCESSES, header: '0\n', expectedBytes, timeoutMs, measureLatency },
      timeoutMs + 30_000,
    ),
  );
}

function percentile(results: ClientsResult[], p: number): number {
  const histogram = new Map<number, number>();
  for (const r of results) for (const [b, n] of Object.entries(r.histogram)) histogram.set(Number(b), (histogram.get(Number(b)) ?? 0) + n);
  const total = [...histogram.values()].reduce((a, b) => a + b, 0);
  let acc = 0;
  for (const b of [...histogram.keys()].sort((x, y) => x - y)) {
    acc += histogram.get(b)!;
    if (acc >= total * p) return (b + 1) * (results[0]?.bucket_ms ?? 0.5);
  }
  return NaN;
}

export async function tailsrvFanout(options: BenchOptions): Promise<Record<string, number>> {
  const lines = options.quick ? 200_000 : 1_000_000;
  const expectedBytes = lines * LINE_BYTES;
  const timeoutMs = options.quick ? 60_000 : 180_000;
  const dir = await mkdtemp(join(tmpdir(), 'log-service-bench-tailsrv-'));
  const file = join(dir, 'fanout.log');
  await writeFile(file, '');
  const cleanup: (() => unknown)[] = [];
  try {
    // tailsrv: the file is empty; the clients wait at byte 0 while it is appended.
    const port = await freePort();
    const profile = options.profileDir('tailsrv_fanout');
    const server = await startTcpChild(
      [
        ...(profile !== undefined ? ['--cpu-prof', '--cpu-prof-dir', profile] : []),
        join(REPO_ROOT, 'bin/log-service.js'),
        'tailsrv',
        file,
        '-p',
        String(port),
        '--log-level',
        'warn',
      ],
      port,
      dir,
    );
    cleanup.push(() => server.stop());
    const clients = clientGenerators(port, expectedBytes, true, timeoutMs);
    cleanup.push(() => clients.forEach((g) => g.kill()));
    for (const g of clients) await g.next(30_000);
    const appender = startGenerator<AppenderResult>('file-appender.ts', { file, lines, batchLines: BATCH_LINES, lineBytes: LINE_BYTES }, timeoutMs);
    cleanup.push(() => appender.kill());
    await appender.next(20_000);
    const memory = sampleAnonMemory(server.pid);
    appender.send({ type: 'go' });
    const appended = await appender.result;
    const seen = await Promise.all(clients.map((g) => g.result));
    const peakAnon = memory.stop();
    await server.stop();

    const complete = seen.reduce((a, r) => a + r.complete, 0);
    const delivered = seen.reduce((a, r) => a + r.received, 0);
    const lastDone = Math.max(...seen.map((r) => r.last_done_ms));
    const seconds = (complete === CLIENTS ? lastDone - appended.start_ms : timeoutMs) / 1000;

    // Baseline: the finished file piped to the same number of sockets.
    const basePort = await freePort();
    const baseline = await startTcpChild(['--import=tsx', join(REPO_ROOT, 'bench/baseline/file-pipe-server.ts'), String(basePort), file], basePort, REPO_ROOT);
    cleanup.push(() => baseline.stop());
    const baseMemory = sampleAnonMemory(baseline.pid);
    const baseClients = clientGenerators(basePort, expectedBytes, false, timeoutMs);
    cleanup.push(() => baseClients.forEach((g) => g.kill()));
    const baseSeen = await Promise.all(baseClients.map((g) => g.result));
    const basePeak = baseMemory.stop();
    const baseDelivered = baseSeen.reduce((a, r) => a + r.received, 0);
    const baseStart = Math.min(...baseSeen.map((r) => r.connect_start_ms));
    const baseSeconds = (Math.max(...baseSeen.map((r) => r.last_done_ms)) - baseStart) / 1000;

    // Paced: issue 17's figure. 1,000 idle clients, one that never reads, four readers, 50 MB/s.
    const pacedMb = options.quick ? 20 : 50;
    const pacedLines = Math.floor((pacedMb * 2 ** 20) / LINE_BYTES);
    const pacedBytes = pacedLines * LINE_BYTES;
    const pacedDir = join(dir, 'paced');
    await mkdir(pacedDir);
    await writeFile(join(pacedDir, 'idle.log'), 'quiet\n');
    await writeFile(join(pacedDir, 'busy.log'), '');
    const pacedPort = await freePort();
    const pacedServer = await startTcpChild(
      [join(REPO_ROOT, 'bin/log-service.js'), 'tailsrv', '--dir', pacedDir, '-p', String(pacedPort), '--log-level', 'warn'],
      pacedPort,
      dir,
    );
    cleanup.push(() => pacedServer.stop());
    const held = startGenerator<HeldResult>(
      'tailsrv-idle-clients.ts',
      {
        port: pacedPort,
        idle: PACED_IDLE,
        idleHeader: 'stream idle.log from end\n',
        stalled: PACED_STALLED,
        stalledHeader: 'stream busy.log from start\n',
      },
      timeoutMs + 60_000,
    );
    cleanup.push(() => held.kill());
    await held.next(30_000);
    const readers = startGenerator<ClientsResult>(
      'tailsrv-clients.ts',
      {
        port: pacedPort,
        clients: PACED_READERS,
        header: 'stream busy.log from start\n',
        expectedBytes: pacedBytes,
        timeoutMs,
        measureLatency: true,
        sha256: true,
      },
      timeoutMs + 30_000,
    );
    cleanup.push(() => readers.kill());
    await readers.next(30_000);
    const pacedAppender = startGenerator<AppenderResult>(
      'file-appender.ts',
      { file: join(pacedDir, 'busy.log'), lines: pacedLines, batchLines: BATCH_LINES, lineBytes: LINE_BYTES, mbPerSecond: PACED_MB_PER_S, sha256: true },
      timeoutMs,
    );
    cleanup.push(() => pacedAppender.kill());
    await pacedAppender.next(20_000);
    // Every header has been read (the readers start from the start anyway).
    await sleep(200);
    const pacedMemory = sampleAnonMemory(pacedServer.pid);
    pacedAppender.send({ type: 'go' });
    const pacedAppended = await pacedAppender.result;
    const pacedSeen = await readers.result;
    const pacedPeak = pacedMemory.stop();
    held.send({ type: 'close' });
    const stillHeld = await held.result;
    await pacedServer.stop();
    const pacedComplete = (pacedSeen.digests ?? []).filter((d) => d === pacedAppended.sha256).length;

    const mbPerS = delivered / 2 ** 20 / seconds;
    const baseMbPerS = baseDelivered / 2 ** 20 / baseSeconds;
    return {
      lines,
      clients: CLIENTS,
      file_mb: round(expectedBytes / 2 ** 20, 1),
      append_mb_per_s: round(appended.bytes / 2 ** 20 / ((appended.end_ms - appended.start_ms) / 1000), 0),
      delivered_mb_per_s: round(mbPerS, 0),
      baseline_mb_per_s: round(baseMbPerS, 0),
      ratio: round(mbPerS / baseMbPerS, 2),
      p50_ms: round(percentile(seen, 0.5), 1),
      p99_ms: round(percentile(seen, 0.99), 1),
      clients_incomplete: CLIENTS - complete,
      peak_anon_mb: round(peakAnon, 1),
      baseline_peak_anon_mb: round(basePeak, 1),
      paced_mb: round(pacedBytes / 2 ** 20, 1),
      paced_append_mb_per_s: round(pacedAppended.bytes / 2 ** 20 / ((pacedAppended.end_ms - pacedAppended.start_ms) / 1000), 1),
      paced_p50_ms: round(percentile([pacedSeen], 0.5), 1),
      paced_p99_ms: round(percentile([pacedSeen], 0.99), 1),
      paced_incomplete: PACED_READERS - pacedComplete,
      paced_clients_closed: PACED_IDLE - stillHeld.idle_open + (PACED_STALLED - stillHeld.stalled_open),
      paced_peak_anon_mb: round(pacedPeak, 1),
    };
  } finally {
    for (const step of cleanup.reverse()) await step();
    await rm(dir, { recursive: true, force: true });
  }
}
