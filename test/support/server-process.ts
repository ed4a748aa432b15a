// Starts the real `log-service server` as a child process for end-to-end tests:
// a free loopback port, a temporary LMDB directory, readiness by polling
// GET /healthz. The process can be stopped, killed and restarted on the same
// port and data directory (what a crash or a deploy looks like to clients).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = join(REPO_ROOT, 'bin/log-service.js');

const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

export interface ServerProcess {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  port: number;
  /** Temporary directory holding the LMDB files (removed by stop()). */
  dataDir: string;
  /** The current child process (replaced by restart()). */
  process: ChildProcess;
  /** SIGTERM, wait for exit (SIGKILL after 10 s), then remove dataDir. */
  stop(): Promise<void>;
  /** Sends a signal to the current process (default SIGKILL) without waiting or cleaning up. */
  kill(signal?: NodeJS.Signals): void;
  /** Waits for the current process to exit (after kill()). */
  exited(): Promise<void>;
  /** Starts a new process on the same port and data directory (after kill() or crash). */
  restart(): Promise<void>;
  /** Everything the server processes wrote to stdout and stderr (for failure messages). */
  output(): string;
}

/** A port that was free a moment ago (the kernel picks it; we release it for the child). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolvePort(port));
    });
  });
}

/** The parent's environment without LOG_SERVICE_* settings, so tests are not steered by the developer's shell. */
export function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('LOG_SERVICE_')) env[k] = v;
  }
  return env;
}

export async function startServer(env: Record<string, string> = {}): Promise<ServerProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'log-service-test-'));
  let lastError: unknown;
  // The port probe and the child's bind race with other processes: retry a few times.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = env.LOG_SERVICE_HTTP_BIND !== undefined ? Number(env.LOG_SERVICE_HTTP_BIND.split(':').pop()) : await freePort();
    try {
      return await launch(port, dataDir, env);
    } catch (err) {
      lastError = err;
      if (env.LOG_SERVICE_HTTP_BIND !== undefined) break;
    }
  }
  await rm(dataDir, { recursive: true, force: true });
  throw lastError;
}

async function launch(port: number, dataDir: string, extraEnv: Record<string, string>): Promise<ServerProcess> {
  const url = `http://127.0.0.1:${port}`;
  let log = '';
  let child: ChildProcess;
  let exitPromise: Promise<void>;

  const spawnChild = async (): Promise<void> => {
    child = spawn(process.execPath, [BIN, 'server'], {
      // cwd = dataDir so a developer's .env in the repository does not leak in
      cwd: dataDir,
      env: {
        ...cleanEnv(),
        LOG_SERVICE_HTTP_BIND: `127.0.0.1:${port}`,
        LOG_SERVICE_LMDB_PATH: join(dataDir, 'db'),
        LOG_SERVICE_LOG_LEVEL: 'warn',
        // The tests run the sources, never a build/ left over from an earlier install.
        LOG_SERVICE_RUN_SOURCES: '1',
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const current = child;
    current.stdout?.on('data', (chunk: Buffer) => {
      log += chunk.toString('utf8');
    });
    current.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString('utf8');
    });
    exitPromise = new Promise((done) => {
      if (current.exitCode !== null || current.signalCode !== null) done();
      else current.once('exit', () => done());
    });
    await waitForHealth(url, current, () => log);
  };

  await spawnChild();

  const server: ServerProcess = {
    url,
    port,
    dataDir,
    get process() {
      return child;
    },
    kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    exited: () => exitPromise,
    async restart() {
      server.kill('SIGKILL');
      await exitPromise;
      await spawnChild();
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exitPromise;
        clearTimeout(timer);
      }
      await rm(dataDir, { recursive: true, force: true });
    },
    output: () => log,
  };
  return server;
}

async function waitForHealth(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`log-service server exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output()}`);
    }
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`log-service server did not answer GET /healthz within ${READY_TIMEOUT_MS} ms:\n${output()}`);
}
