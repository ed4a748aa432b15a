// Child processes for the benchmark: the real log-service server, the bare
// baseline servers and the load generators. Nothing measured runs in the
// orchestrator's process; every child is bounded by a timeout and killed by pid.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(REPO_ROOT, 'bin/log-service.js');
const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 15_000;

export async function freePort(): Promise<number> {
  return new Promise((done, reject) => {
    const probe = createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => done(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A value from /proc/<pid>/status in MiB (VmRSS, VmHWM, RssAnon, …). */
export function procStatusMb(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return Number(m?.[1] ?? NaN) / 1024;
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number, which: 'all' | 'user' | 'system' = 'all'): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const user = Number(fields[11]) / 100; // utime, stime in clock ticks (USER_HZ = 100)
    const system = Number(fields[12]) / 100;
    return which === 'user' ? user : which === 'system' ? system : user + system;
  } catch {
    return NaN;
  }
}

export interface ServerChild {
  url: string;
  port: number;
  pid: number;
  dataDir: string;
  output(): string;
  /** SIGTERM (graceful, writes the CPU profile when profiling), SIGKILL after a timeout. */
  stop(): Promise<void>;
}

function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('LOG_SERVICE_')) env[k] = v;
  return env;
}

async function waitReady(url: string, child: ChildProcess, output: () => string, path: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output().trim().slice(-2000)}`);
    }
    try {
      const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status < 500) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`server at ${url} was not ready within ${READY_TIMEOUT_MS} ms:\n${output().trim().slice(-2000)}`);
}

function stopper(child: ChildProcess, cleanup: () => Promise<void>): () => Promise<void> {
  const exited = new Promise<void>((done) => {
    if (child.exitCode !== null || child.signalCode !== null) done();
    else child.once('exit', () => done());
  });
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    await cleanup();
  };
}

export interface LogServiceOptions {
  env?: Record<string, string>;
  /** Reuse a data directory (e.g. download what a previous server uploaded); not removed on stop. */
  dataDir?: string;
  /** Write a V8 CPU profile of the server into this directory (on stop). */
  cpuProfDir?: string;
}

/** The real server: `node bin/log-service.js server` on a free loopback port. */
export async function startLogService(options: LogServiceOptions = {}): Promise<ServerChild> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'log-service-bench-')));
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let log = '';
    const nodeArgs = options.cpuProfDir !== undefined ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfDir] : [];
    // BENCH_SERVER_NODE_ARGS (e.g. "--trace-gc"): more node options for the service's process, to see what it does.
    if (process.env.BENCH_SERVER_NODE_ARGS) nodeArgs.push(...process.env.BENCH_SERVER_NODE_ARGS.split(' ').filter(Boolean));
    const child = spawn(process.execPath, [...nodeArgs, BIN, 'server'], {
      cwd: dataDir,
      env: {
        ...cleanEnv(),
        LOG_SERVICE_HTTP_BIND: `127.0.0.1:${port}`,
        LOG_SERVICE_LMDB_PATH: join(dataDir, 'db'),
        LOG_SERVICE_LOG_LEVEL: 'warn',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (c: Buffer) => {
      log = (log + c.toString('utf8')).slice(-20_000);
    });
    child.stderr?.on('data', (c: Buffer) => {
      log = (log + c.toString('utf8')).slice(-20_000);
    });
    try {
      await waitReady(url, child, () => log, '/healthz');
      return {
        url,
        port,
        pid: child.pid!,
        dataDir,
        output: () => log,
        stop: stopper(child, async () => {
          if (ownDir) await rm(dataDir, { recursive: true, force: true });
        }),
      };
    } catch (err) {
      lastError = err;
      child.kill('SIGKILL');
      process.stderr.write(`\n  server start failed (attempt ${attempt + 1}): ${String(err).split('\n')[0]}\n`);
    }
  }
  if (ownDir) await rm(dataDir, { recursive: true, force: true });
  throw lastError;
}

/** A bare node:http baseline server from bench/baseline/. */
export async function startBaseline(script: string, args: string[] = []): Promise<ServerChild> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let log = '';
  // BENCH_BASELINE_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=DIR"): node options for the bare servers, to compare their profiles with the service's.
  const nodeArgs = (process.env.BENCH_BASELINE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, '--import=tsx', join(REPO_ROOT, 'bench/baseline', script), String(port), ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (c: Buffer) => {
    log = (log + c.toString('utf8')).slice(-20_000);
  });
  child.stderr?.on('data', (c: Buffer) => {
    log = (log + c.toString('utf8')).slice(-20_000);
  });
  await waitReady(url, child, () => log, '/ready');
  return { url, port, pid: child.pid!, dataDir: '', output: () => log, stop: stopper(child, async () => {}) };
}

export interface GeneratorChild<R> {
  pid: number;
  /** Messages the generator sent before its result (e.g. {ready: true}). */
  next(timeoutMs: number): Promise<Record<string, unknown>>;
  send(message: Record<string, unknown>): void;
  /** The generator's final {result}; rejects on crash or timeout (the child is killed). */
  result: Promise<R>;
  kill(): void;
}

/** A load generator (bench/gen/<script>) in its own process, with an IPC channel. */
export function startGenerator<R>(script: string, config: unknown, timeoutMs: number): GeneratorChild<R> {
  const child = fork(join(REPO_ROOT, 'bench/gen', script), [JSON.stringify(config)], {
    cwd: REPO_ROOT,
    execArgv: ['--import=tsx', ...(process.env.BENCH_PROFILE_GENERATORS ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROFILE_GENERATORS] : [])],
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString('utf8')).slice(-5000);
  });
  const queue: Record<string, unknown>[] = [];
  const waiters: ((m: Record<string, unknown>) => void)[] = [];
  let resolveResult!: (r: R) => void;
  let rejectResult!: (e: Error) => void;
  const result = new Promise<R>((res, rej) => {
    resolveResult = res;
    rejectResult = rej;
  });
  result.catch(() => {});
  const timer = setTimeout(() => {
    child.kill('SIGKILL');
    rejectResult(new Error(`generator ${script} timed out after ${timeoutMs} ms\n${stderr}`));
  }, timeoutMs);
  child.on('message', (m: Record<string, unknown>) => {
    if ('result' in m) {
      clearTimeout(timer);
      resolveResult(m.result as R);
      return;
    }
    const w = waiters.shift();
    if (w) w(m);
    else queue.push(m);
  });
  child.on('exit', (code, signal) => {
    clearTimeout(timer);
    rejectResult(new Error(`generator ${script} exited (${code ?? signal}) without a result\n${stderr}`));
  });
  return {
    pid: child.pid!,
    result,
    send: (m) => {
      if (child.connected) child.send(m);
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    next: (ms) => {
      const queued = queue.shift();
      if (queued) return Promise.resolve(queued);
      return new Promise((res, rej) => {
        const t = setTimeout(() => rej(new Error(`generator ${script}: no message within ${ms} ms\n${stderr}`)), ms);
        waiters.push((m) => {
          clearTimeout(t);
          res(m);
        });
        result.catch((e: Error) => {
          clearTimeout(t);
          rej(e);
        });
      });
    },
  };
}

/**
 * Samples a process's memory every 50 ms until stopped: the peak of RssAnon
 * (its own memory: heap, buffers, code; /proc has no high-water mark for it,
 * hence the sampling), and at the stop VmHWM (peak RSS over the process's
 * life, mapped file pages included: what `peak_rss_mb` has always been).
 */
export function sampleMemory(pid: number): { stop(): { peakAnonMb: number; peakRssMb: number } } {
  let peakAnonMb = 0;
  let peakRssMb = 0;
  const sample = () => {
    try {
      peakAnonMb = Math.max(peakAnonMb, procStatusMb(pid, 'RssAnon'));
      peakRssMb = Math.max(peakRssMb, procStatusMb(pid, 'VmRSS'));
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
      try {
        peakRssMb = Math.max(peakRssMb, procStatusMb(pid, 'VmHWM'));
      } catch {
        // gone: the sampled VmRSS peak stands
      }
      return { peakAnonMb, peakRssMb };
    },
  };
}
