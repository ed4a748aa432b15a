// A private Redis Cluster (3 masters, no replicas) and a Redis Sentinel for
// the tests (CONTRIBUTING.md, habit 9: the real thing, never a mock), built from the local
// `redis-server` (and `redis-cli` when present). Same policy as
// redis-server.ts: without the binary, CI=true is a hard error and a local run
// gets null, so the tests skip with a loud warning. Every wait is bounded.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { within } from './bounded-wait.ts';

export interface TestCluster {
  /** '127.0.0.1:port' of every master. */
  nodes: string[];
  stop(): Promise<void>;
}

export interface TestSentinel {
  port: number;
  stop(): Promise<void>;
}

const WAIT_MS = 20_000;
const SLOTS = 16384;

/** Children still running; killed on exit should a test run end without its after() hook. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

function hasBinary(name: string): boolean {
  const probe = spawnSync(name, ['--version'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
}

/** null (after a loud warning) when redis-server is missing outside CI; throws under CI=true. */
function redisServerOrSkip(what: string, env: NodeJS.ProcessEnv): boolean {
  if (hasBinary('redis-server')) return true;
  if (env.CI === 'true') throw new Error(`redis-server not found on PATH: the Redis ${what} tests need it (install redis-server)`);
  console.warn(`\n*** WARNING: redis-server not found on PATH: the Redis ${what} tests are SKIPPED ***\n`);
  return false;
}

function listenOnce(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(undefined));
    srv.listen(port, '127.0.0.1', () => {
      const address = srv.address();
      const got = typeof address === 'object' && address !== null ? address.port : undefined;
      srv.close(() => resolve(got));
    });
  });
}

/** A free port; with `bus`, one whose cluster bus port (port + 10000) is free too. */
async function freePort(bus = false): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await listenOnce(0);
    if (port === undefined) continue;
    if (!bus) return port;
    if (port + 10000 <= 65535 && (await listenOnce(port + 10000)) !== undefined) return port;
  }
  throw new Error('no free port found');
}

interface Proc {
  child: ChildProcess;
  /** The last few KiB of the process's output, for error messages. */
  output(): string;
}

function launch(command: string, args: string[], cwd: string): Proc {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-4096);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.once('error', (err) => keep(Buffer.from(`\n${String(err)}\n`)));
  return { child, output: () => out };
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await within(exited, 5000);
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await within(exited, 2000);
  }
}

/** A plain client for setup only: no retries, so a dead node fails the call instead of hanging it. */
function adminClient(port: number): Redis {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: true,
    connectTimeout: 1000,
    commandTimeout: 2000,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  return client;
}

/** Polls `probe` (errors count as "not yet") until true; throws after `ms` with what it last saw. */
async function until(what: string, probe: () => Promise<boolean>, alive: () => void, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    alive();
    try {
      if (await probe()) return;
    } catch (err) {
      last = String(err);
    }
    await sleep(100);
  }
  throw new Error(`${what}: not within ${ms} ms${last === '' ? '' : ` (last error: ${last})`}`);
}

async function withClient<T>(port: number, fn: (c: Redis) => Promise<T>): Promise<T> {
  const c = adminClient(port);
  try {
    await c.connect();
    return await fn(c);
  } finally {
    c.disconnect();
  }
}

/** Runs a process to its end within `ms`; rejects with its output on failure. */
async function run(command: string, args: string[], cwd: string, ms = WAIT_MS): Promise<void> {
  const p = launch(command, args, cwd);
  const code = await within(new Promise<number | null>((resolve) => p.child.once('exit', (c) => resolve(c))), ms, 'timeout' as const);
  if (code === 0) return;
  await kill(p.child);
  throw new Error(`${command} ${args.join(' ')}: ${code === 'timeout' ? `no end within ${ms} ms` : `exit code ${String(code)}`}\n${p.output()}`);
}

/** Assigns the slots in three ranges and introduces the nodes to each other, as `redis-cli --cluster create` would. */
async function joinByHand(ports: number[]): Promise<void> {
  const per = Math.ceil(SLOTS / ports.length);
  await Promise.all(
    ports.map((port, i) =>
      withClient(port, async (c) => {
        const from = i * per;
        const to = Math.min(SLOTS, from + per) - 1;
        // ADDSLOTSRANGE needs Redis 7; ADDSLOTS with every slot works everywhere.
        await c.call('CLUSTER', 'ADDSLOTS', ...Array.from({ length: to - from + 1 }, (_, k) => String(from + k)));
      }),
    ),
  );
  await withClient(ports[0]!, async (c) => {
    for (const other of ports.slice(1)) await c.call('CLUSTER', 'MEET', '127.0.0.1', String(other));
  });
}

/**
 * Starts a 3-master Redis Cluster on free ports (no persistence, a temp dir for
 * the nodes-*.conf files), waits until every node reports cluster_state:ok.
 * null when redis-server is missing outside CI.
 */
export async function startRedisCluster(env: NodeJS.ProcessEnv = process.env): Promise<TestCluster | null> {
  if (!redisServerOrSkip('Cluster', env)) return null;
  const dir = await mkdtemp(join(tmpdir(), 'logsvc-redis-cluster-'));
  const procs: Proc[] = [];
  const stop = async () => {
    await Promise.all(procs.map((p) => kill(p.child)));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const ports: number[] = [];
    for (let i = 0; i < 3; i++) {
      let port = await freePort(true);
      while (ports.includes(port)) port = await freePort(true);
      ports.push(port);
    }
    for (const port of ports) {
      procs.push(
        launch(
          'redis-server',
          [
            '--port',
            String(port),
            '--bind',
            '127.0.0.1',
            '--save',
            '',
            '--appendonly',
            'no',
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dir, `nodes-${port}.conf`),
            '--cluster-node-timeout',
            '2000',
            '--dir',
            dir,
          ],
          dir,
        ),
      );
    }
    const alive = () => {
      for (const [i, p] of procs.entries()) {
        if (p.child.exitCode !== null || p.child.signalCode !== null) {
          throw new Error(`redis-server (cluster node on port ${ports[i]}) exited early:\n${p.output()}`);
        }
      }
    };
    for (const port of ports) {
      await until(`cluster node ${port} answering PING`, () => withClient(port, async (c) => (await c.ping()) === 'PONG'), alive);
    }
    if (hasBinary('redis-cli')) {
      await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], dir);
    } else {
      await joinByHand(ports);
    }
    for (const port of ports) {
      await until(
        `cluster_state:ok with 3 known nodes on ${port}`,
        () =>
          withClient(port, async (c) => {
            const info = String(await c.call('CLUSTER', 'INFO'));
            return /cluster_state:ok/.test(info) && /cluster_known_nodes:3\b/.test(info) && /cluster_slots_assigned:16384\b/.test(info);
          }),
        alive,
      );
    }
    return { nodes: ports.map((p) => `127.0.0.1:${p}`), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Starts a Redis Sentinel that monitors the master on `masterPort` as
 * "mymaster" (quorum 1) and waits until it names that master.
 * null when redis-server is missing outside CI.
 */
export async function startSentinel(masterPort: number, env: NodeJS.ProcessEnv = process.env): Promise<TestSentinel | null> {
  if (!redisServerOrSkip('Sentinel', env)) return null;
  const dir = await mkdtemp(join(tmpdir(), 'logsvc-redis-sentinel-'));
  let proc: Proc | undefined;
  const stop = async () => {
    if (proc !== undefined) await kill(proc.child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const port = await freePort();
    const conf = join(dir, 'sentinel.conf');
    // Sentinel rewrites its config file, so it lives in the temp dir.
    await writeFile(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor mymaster 127.0.0.1 ${masterPort} 1`,
        'sentinel down-after-milliseconds mymaster 2000',
        '',
      ].join('\n'),
    );
    const p = launch('redis-server', [conf, '--sentinel'], dir);
    proc = p;
    const alive = () => {
      if (p.child.exitCode !== null || p.child.signalCode !== null) throw new Error(`redis-server --sentinel exited early:\n${p.output()}`);
    };
    await until(
      `sentinel on ${port} naming 127.0.0.1:${masterPort} as mymaster`,
      () =>
        withClient(port, async (c) => {
          const addr = (await c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'mymaster')) as string[] | null;
          return addr?.[0] === '127.0.0.1' && addr[1] === String(masterPort);
        }),
      alive,
    );
    return { port, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
