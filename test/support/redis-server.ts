// A real Redis for the tests (CONTRIBUTING.md, habit 9: the real thing, never a mock).
// REDIS_URL wins (stop/restart then unavailable); else a private redis-server
// on a free port, with no persistence unless asked for (`persist`: an
// append-only file fsynced on every write, in a temporary directory, so a
// stop and restart keeps every acknowledged write); else, under CI=true, a
// hard error, and locally null so the Redis tests skip with a loud warning.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { within } from './bounded-wait.ts';

export interface TestRedis {
  url: string;
  port: number;
  /** Whether stop/restart work (false for an external REDIS_URL). */
  controllable: boolean;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** One PING over a raw socket: true on +PONG. */
function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('data', (d) => finish(d.toString().startsWith('+PONG')));
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
  });
}

async function waitForPing(port: number, child: ChildProcess, limitMs = 10000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
    if (await pingOnce(port)) return;
    await sleep(50);
  }
  throw new Error(`redis-server on port ${port} did not answer PING within ${limitMs} ms`);
}

function hasRedisServer(): boolean {
  const probe = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
}

export interface RedisOptions {
  /** Keep the data across stop/restart (appendonly, fsync always) instead of starting empty. */
  persist?: boolean;
}

export async function startRedis(env: NodeJS.ProcessEnv = process.env, options: RedisOptions = {}): Promise<TestRedis | null> {
  const external = env.REDIS_URL;
  if (external !== undefined && external !== '') {
    const unavailable = async () => {
      throw new Error('stop/restart are not available with REDIS_URL');
    };
    return { url: external, port: Number(new URL(external).port || 6379), controllable: false, stop: unavailable, restart: unavailable };
  }
  if (!hasRedisServer()) {
    if (env.CI === 'true') throw new Error('redis-server not found and REDIS_URL not set');
    console.warn('\n*** WARNING: redis-server not found and REDIS_URL not set: the Redis stream tests are SKIPPED ***\n');
    return null;
  }
  const port = await freePort();
  let child: ChildProcess | undefined;
  let persistence = ['--appendonly', 'no'];
  if (options.persist === true) {
    const dir = mkdtempSync(join(tmpdir(), 'log-service-redis-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    persistence = ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir];
  }
  const launch = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence], { stdio: 'ignore' });
    await waitForPing(port, child);
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (c === undefined || c.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill('SIGTERM');
    await within(exited, 5000);
    if (c.exitCode === null) c.kill('SIGKILL');
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    controllable: true,
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
  };
}
