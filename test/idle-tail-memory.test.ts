// What an idle tail holds (docs/ARCHITECTURE.md, "An idle tail's memory"):
// thousands of viewers sit on quiet streams for hours, so each one's memory
// is the service's memory. These tests hold real idle tails (SSE and raw,
// over real sockets) on an in-process server and count what the heap keeps.
import assert from 'node:assert/strict';
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { LeaveSignal } from '../handler/tail/leave-signal.ts';
import { startTestServer, type TestServer } from './support/in-process-server.ts';

v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

/** Live objects made by `ctor`, after a GC; undefined on a Node without v8.queryObjects (before 20.13). */
function count(ctor: abstract new (...args: never[]) => unknown): number | undefined {
  collectGarbage();
  const query = (v8 as { queryObjects?: (ctor: unknown, options: { format: 'count' }) => number }).queryObjects;
  return query === undefined ? undefined : query(ctor, { format: 'count' });
}

function closed(socket: net.Socket): Promise<void> {
  return socket.destroyed && socket.closed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()));
}

async function openTails(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  return Number(/^logsvc_tails_open\s+(\d+)/m.exec(await res.text())?.[1]);
}

/** Opens `n` idle tails of `path(i)` and resolves once each got its first bytes. */
async function holdTails(port: number, n: number, path: (i: number) => string, ready: string): Promise<net.Socket[]> {
  const sockets: net.Socket[] = [];
  for (let i = 0; i < n; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, (_, j) => {
        return new Promise<void>((resolve, reject) => {
          const socket = net.connect(port, '127.0.0.1');
          sockets.push(socket);
          let head = '';
          socket.on('connect', () => socket.write(`GET ${path(i + j)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`));
          socket.on('data', (c: Buffer) => {
            head += c.toString('latin1');
            if (!head.startsWith('HTTP/1.1 200')) reject(new Error(`tail ${i + j}: ${head.slice(0, 80)}`));
            else if (head.includes(ready)) resolve();
          });
          socket.on('error', reject);
        });
      }),
    );
  }
  return sockets;
}

/** Waits (at most 10 s) until the server counts no open tail. */
async function until0(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const open = await openTails(port);
    if (open === 0) return;
    assert.ok(Date.now() < deadline, `${open} tails still counted after their viewers left`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('an idle tail’s memory', function () {
  this.timeout(60000);
  let server: TestServer;
  const streams = 20;

  before(async () => {
    server = await startTestServer({ LOG_SERVICE_MAX_TAILS_PER_ACCOUNT: '10000', LOG_SERVICE_PING_INTERVAL_SECONDS: '3600' });
    for (let s = 0; s < streams; s++) {
      const res = await fetch(`${server.url}/stream?accountID=mem&key=idle/${s}`, { method: 'POST' });
      assert.equal(res.status, 204);
    }
    // A raw tail needs text to wait after: one partial-free line each.
    for (let s = 0; s < streams; s++) {
      const res = await fetch(`${server.url}/stream?accountID=mem&key=idle/${s}`, { method: 'PUT', body: JSON.stringify([{ out: 'x\n' }]) });
      assert.equal(res.status, 204);
    }
  });
  after(async () => {
    await server.destroy();
  });

  it('holds no AbortController per tail, and a bounded heap per tail (SSE and raw)', async () => {
    const tails = 400;
    // The clients' own sockets are in this heap too: their cost is measured first, on idle connections to a bare server.
    const bare = net.createServer((s) => s.on('data', () => s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nready\r\n')));
    await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
    const barePort = (bare.address() as net.AddressInfo).port;
    const bareBefore = heapAfterGc();
    const bareSockets = await holdTails(barePort, tails, () => '/', 'ready');
    const clientBytes = (heapAfterGc() - bareBefore) / tails;
    // Gone before the service's baseline is taken, or their freeing would lower the figure below.
    await Promise.all(bareSockets.map((s) => (s.destroy(), closed(s))));
    await new Promise((resolve) => bare.close(resolve));

    const controllersBefore = count(AbortController);
    const before = heapAfterGc();
    const sockets = await holdTails(
      server.port,
      tails,
      (i) => (i % 4 === 3 ? `/stream/raw?accountID=mem&key=idle/${i % streams}&offset=2` : `/stream?accountID=mem&key=idle/${i % streams}`),
      // SSE: the retry and ping comment; raw: the headers (a raw tail at the end sends no byte yet).
      '\r\n\r\n',
    );
    try {
      await new Promise((r) => setTimeout(r, 200));
      const perTail = (heapAfterGc() - before) / tails - clientBytes;
      const controllersAfter = count(AbortController);
      const controllers = controllersAfter === undefined || controllersBefore === undefined ? 0 : controllersAfter - controllersBefore;
      // Before the idle-tail work each tail held two AbortControllers and 11.9–12.3 KB of heap here; now 6.8–7.4 KB (BENCHMARKS.md).
      assert.ok(controllers < tails / 10, `${controllers} AbortControllers for ${tails} idle tails`);
      assert.ok(
        perTail < 9 * 1024,
        `an idle tail holds ${(perTail / 1024).toFixed(1)} KB of heap (bound 9 KB; client sockets ${(clientBytes / 1024).toFixed(1)} KB each, subtracted)`,
      );
    } finally {
      await Promise.all(sockets.map((s) => (s.destroy(), closed(s))));
    }
  });

  it('counts each idle tail in its slot while it is open, and gives every slot back when the viewers leave', async () => {
    await until0(server.port);
    const sockets = await holdTails(server.port, 60, (i) => `/stream?accountID=mem&key=idle/${i % streams}`, '\r\n\r\n');
    // Handed to the follow loop, a tail keeps its slot (the per-account limit) until it ends.
    assert.equal(await openTails(server.port), 60);
    await Promise.all(sockets.map((s) => (s.destroy(), closed(s))));
    await until0(server.port);
  });

  it('refuses a tail over the account limit while idle tails hold every slot, and takes one again once they leave', async () => {
    const limited = await startTestServer({ LOG_SERVICE_MAX_TAILS_PER_ACCOUNT: '5' });
    try {
      assert.equal((await fetch(`${limited.url}/stream?accountID=few&key=k`, { method: 'POST' })).status, 204);
      const sockets = await holdTails(limited.port, 5, () => '/stream?accountID=few&key=k', '\r\n\r\n');
      const over = await fetch(`${limited.url}/stream?accountID=few&key=k`);
      assert.equal(over.status, 429);
      await Promise.all(sockets.map((s) => (s.destroy(), closed(s))));
      await until0(limited.port);
      const again = new AbortController();
      const res = await fetch(`${limited.url}/stream?accountID=few&key=k`, { signal: again.signal });
      assert.equal(res.status, 200);
      again.abort();
    } finally {
      await limited.destroy();
    }
  });
});

describe('LeaveSignal', () => {
  it('calls each listener once when aborted, none after removal, and none added after the abort', () => {
    const signal = new LeaveSignal();
    const calls: string[] = [];
    const a = () => calls.push('a');
    const b = () => calls.push('b');
    signal.addEventListener('abort', a);
    signal.addEventListener('abort', b);
    signal.removeEventListener('abort', a);
    assert.equal(signal.aborted, false);
    signal.abort();
    signal.abort();
    assert.deepEqual(calls, ['b']);
    assert.equal(signal.aborted, true);
    signal.addEventListener('abort', a);
    signal.abort();
    assert.deepEqual(calls, ['b']);
  });
});
