// One server process per LMDB file (docs/BACKENDS.md §4, docs/OPERATIONS.md §1.1): a second
// `log-service server` on the same data refuses to start before it touches anything (it used
// to sweep the first one's upload in flight as "abandoned"); a lock left by a killed process
// is taken over; a clean exit releases it. A blob whose chunks are missing is a logged 500.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { open } from 'lmdb';
import { LmdbBlobStore } from '../store/lmdb-blob-store.ts';
import { patternStream, sha256Of } from './support/byte-streams.ts';
import { BIN, cleanEnv, startServer } from './support/server-process.ts';

const MiB = 1024 * 1024;

/** `size` pattern bytes, of which the part after `holdAt` is sent only once `release()` is called. */
function heldBody(size: number, seed: number, holdAt: number): { body: Readable; sent: () => number; release: () => void } {
  let sent = 0;
  let release = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  async function* pieces() {
    for await (const piece of patternStream(size, seed)) {
      if (sent >= holdAt) await gate;
      sent += (piece as Buffer).length;
      yield piece as Buffer;
    }
  }
  return { body: Readable.from(pieces()), sent: () => sent, release: () => release() };
}

/** Runs `log-service server` to its exit; its exit code and what it wrote. */
function runServer(env: Record<string, string>, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'server'], { cwd, env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the second server did not exit within 20 s:\n${stdout}${stderr}`));
    }, 20000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('one server process per LMDB file', function () {
  this.timeout(90000);

  it('a second server on the same data refuses with "in use by process N" and leaves the first one\'s upload in flight whole', async () => {
    const first = await startServer();
    try {
      const dbPath = join(first.dataDir, 'db');
      const size = 20 * MiB;
      const upload = heldBody(size, 21, 10 * MiB);
      const answer = fetch(`${first.url}/ci/p/1/s/t/blob`, {
        method: 'PUT',
        body: Readable.toWeb(upload.body) as ReadableStream,
        duplex: 'half',
      } as RequestInit);
      // Half of the body is in; its chunks are in the file, listed as a pending upload.
      while (upload.sent() < 10 * MiB) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 500));

      const second = await runServer({ LOG_SERVICE_HTTP_BIND: `127.0.0.1:${first.port}`, LOG_SERVICE_LMDB_PATH: dbPath }, first.dataDir);
      assert.notEqual(second.code, 0, `the second server exited 0:\n${second.stdout}${second.stderr}`);
      const lines = second.stderr.trim().split('\n');
      assert.equal(lines.length, 1, second.stderr);
      assert.match(lines[0]!, new RegExp(`in use by process ${first.process.pid}\\b`));

      upload.release();
      const res = await answer;
      assert.equal(res.status, 204, await res.text());
      const down = await fetch(`${first.url}/ci/p/1/s/t/blob`);
      assert.equal(down.status, 200);
      assert.deepEqual(await sha256Of(Readable.fromWeb(down.body! as never)), await sha256Of(patternStream(size, 21)));
    } finally {
      await first.stop();
    }
  });

  it('takes over the lock of a killed server (kill -9) and releases it on a clean exit', async () => {
    const server = await startServer();
    try {
      const lockPath = join(server.dataDir, 'db.owner.lock');
      assert.equal((JSON.parse(readFileSync(lockPath, 'utf8')) as { pid: number }).pid, server.process.pid);
      assert.equal((await fetch(`${server.url}/ci/p/1/s/t/blob`, { method: 'PUT', body: 'kept' })).status, 204);
      server.kill('SIGKILL');
      await server.exited();
      assert.ok(existsSync(lockPath), 'a killed process cannot remove its lock');
      await server.restart();
      assert.equal((JSON.parse(readFileSync(lockPath, 'utf8')) as { pid: number }).pid, server.process.pid);
      assert.equal(await (await fetch(`${server.url}/ci/p/1/s/t/blob`)).text(), 'kept');
      server.kill('SIGTERM');
      await server.exited();
      assert.equal(server.process.exitCode, 0, server.output());
      assert.ok(!existsSync(lockPath), 'the lock is released on a clean exit');
    } finally {
      await server.stop();
    }
  });

  it('answers 500 JSON (and logs it) for a blob whose chunks are missing', async () => {
    const server = await startServer({ LOG_SERVICE_LOG_LEVEL: 'info' });
    try {
      assert.equal(
        (
          await fetch(`${server.url}/ci/p/1/s/t/blob`, {
            method: 'PUT',
            body: Readable.toWeb(patternStream(MiB, 5)) as ReadableStream,
            duplex: 'half',
          } as RequestInit)
        ).status,
        204,
      );
      server.kill('SIGTERM');
      await server.exited();
      // Damage it while no server runs: drop its second chunk.
      const root = open({ path: join(server.dataDir, 'db') });
      const meta = root.openDB<{ uploadId: string }, string>({ name: 'blob-meta' });
      const chunks = root.openDB({ name: 'blob-chunks', encoding: 'binary' });
      const { uploadId } = meta.get('default/p/1/s/t')!;
      assert.equal(await chunks.remove([uploadId, 1]), true);
      await root.close();
      await server.restart();

      const res = await fetch(`${server.url}/ci/p/1/s/t/blob`);
      assert.equal(res.status, 500);
      const body = (await res.json()) as { error_code?: string; code?: string };
      assert.equal(body.error_code, 'LOGSVC_INTERNAL');
      // The log line travels through the child's stdout pipe: give it a moment.
      for (let i = 0; i < 50 && !/damaged: 1 of chunks 0-3/.test(server.output()); i++) await new Promise((r) => setTimeout(r, 50));
      assert.match(server.output(), /"level":50.*blob \\"default\/p\/1\/s\/t\\" is damaged: 1 of chunks 0-3/);
    } finally {
      await server.stop();
    }
  });
});

describe('the LMDB data lock, in one process', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'logsvc-lock-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a second store on the same file in the same process, and allows it after close', async () => {
    const first = new LmdbBlobStore(join(dir, 'db'));
    assert.throws(() => new LmdbBlobStore(join(dir, 'db')), /in use by this process/);
    await first.close();
    await new LmdbBlobStore(join(dir, 'db')).close();
  });

  it('tells a live owner from a pid that was reused by another process', async function () {
    if (!existsSync('/proc/self/stat')) this.skip();
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await new Promise((r) => other.once('spawn', r));
      const stat = readFileSync(`/proc/${other.pid}/stat`, 'utf8');
      const startTicks = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
      const lock = (ticks: string) =>
        writeFileSync(
          join(dir, 'db.owner.lock'),
          JSON.stringify({
            pid: other.pid,
            host: hostname(),
            bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
            pidNs: readlinkSync('/proc/self/ns/pid'),
            startTicks: ticks,
            since: new Date().toISOString(),
          }),
        );
      lock(startTicks!);
      assert.throws(() => new LmdbBlobStore(join(dir, 'db')), new RegExp(`in use by process ${other.pid} `));
      lock('1'); // the same pid, started at another time: its owner is gone
      const store = new LmdbBlobStore(join(dir, 'db'));
      assert.equal((JSON.parse(readFileSync(join(dir, 'db.owner.lock'), 'utf8')) as { pid: number }).pid, process.pid);
      await store.close();
      assert.ok(!existsSync(join(dir, 'db.owner.lock')));
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('waits for the heartbeat of an owner it cannot see (another host): fresh is held, 30 s old is taken over', async () => {
    const path = join(dir, 'db.owner.lock');
    writeFileSync(path, JSON.stringify({ pid: 1, host: 'elsewhere.example', bootId: 'another-kernel', since: new Date().toISOString() }));
    assert.throws(() => new LmdbBlobStore(join(dir, 'db')), /in use by process 1 on elsewhere\.example/);
    const old = new Date(Date.now() - 31_000);
    utimesSync(path, old, old);
    await new LmdbBlobStore(join(dir, 'db')).close();
  });
});
