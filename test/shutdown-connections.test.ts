// What a SIGTERM does to kept-alive connections (docs/OPERATIONS.md §2, docs/PROTOCOL.md §6.8):
// idle ones are closed at once; a request that arrives on an old connection during the
// shutdown is not answered, its connection is closed (an EventSource then reconnects, and
// lands on another instance; a 503 would close it for good); what is in flight ends with
// `Connection: close`, or with the connection closed right after it. Raw sockets, so the
// bytes and the closes are what the server really did; a real server process, on memory
// streams and on Redis (where tails end without a terminal event and viewers reconnect).
import assert from 'node:assert/strict';
import net from 'node:net';
import { startRedis, type TestRedis } from './support/redis-server.ts';
import { startServer, type ServerProcess } from './support/server-process.ts';

/** A raw client connection: every byte received, and whether the server closed it. */
interface RawConnection {
  received(): string;
  closed(): boolean;
  write(text: string | Buffer): void;
  /** Resolves once `predicate` holds for the bytes received (rejects after `ms`). */
  until(predicate: (text: string) => boolean, ms: number, what: string): Promise<void>;
  /** Resolves once the server closed the connection (rejects after `ms`). */
  waitClosed(ms: number, what: string): Promise<void>;
  destroy(): void;
}

async function connect(port: number): Promise<RawConnection> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let text = '';
  let closed = false;
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
  });
  socket.on('error', () => {}); // a write racing the server's close: EPIPE / ECONNRESET
  socket.on('end', () => {
    closed = true;
  });
  socket.on('close', () => {
    closed = true;
  });
  const waitFor = async (cond: () => boolean, ms: number, what: string) => {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms; received:\n${text.slice(-600)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return {
    received: () => text,
    closed: () => closed,
    write: (data) => {
      if (!socket.destroyed && socket.writable) socket.write(data);
    },
    until: (predicate, ms, what) => waitFor(() => predicate(text), ms, what),
    waitClosed: (ms, what) => waitFor(() => closed, ms, what),
    destroy: () => socket.destroy(),
  };
}

const statusLines = (text: string) => text.match(/^HTTP\/1\.1 \d{3}.*$/gm) ?? [];

for (const backend of ['memory', 'redis'] as const) {
  describe(`SIGTERM and kept-alive connections (${backend} streams)`, function () {
    this.timeout(60000);
    let redis: TestRedis | null = null;
    let server: ServerProcess | undefined;

    before(async function () {
      if (backend === 'redis') {
        redis = await startRedis();
        if (redis === null) {
          console.warn('    SKIPPED: no Redis (install redis-server or set REDIS_URL)');
          this.skip();
        }
      }
    });
    after(async () => {
      await server?.stop();
      await redis?.stop();
    });

    it('closes idle connections at once, answers nothing new on old ones, and ends what is in flight with Connection: close', async () => {
      server = await startServer({
        LOG_SERVICE_SHUTDOWN_GRACE_SECONDS: '20',
        LOG_SERVICE_LOG_LEVEL: 'info',
        ...(redis !== null ? { LOG_SERVICE_REDIS_URL: redis.url } : {}),
      });
      const { url, port } = server;
      const stream = `/ci/p/${backend}/s/t/stream`;
      assert.equal((await fetch(`${url}${stream}`, { method: 'POST' })).status, 204);
      assert.equal((await fetch(`${url}${stream}`, { method: 'PUT', body: 'a line\n', headers: { 'Content-Type': 'text/plain' } })).status, 204);
      const head = (method: string, path: string, extra = '') => `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${extra}\r\n`;

      // idle: one answered request, then nothing
      const idle = await connect(port);
      idle.write(head('GET', '/healthz'));
      await idle.until((t) => /\r\n\r\n[\s\S]*"ok"|\r\n\r\n\{/.test(t) && statusLines(t).length === 1, 5000, 'healthz answer');
      assert.match(idle.received(), /Connection: keep-alive/i);
      // a tail in flight, as a browser's EventSource holds it
      const viewer = await connect(port);
      viewer.write(head('GET', stream, 'Accept: text/event-stream\r\n'));
      await viewer.until((t) => t.includes('"out":"a line\\n"'), 5000, "the tail's first line");
      // an upload in flight: headers and half of the body sent
      const uploader = await connect(port);
      const half = Buffer.alloc(512 * 1024, 1);
      uploader.write(head('PUT', '/ci/p/1/s/u/blob', `Content-Length: ${2 * half.length}\r\nContent-Type: application/octet-stream\r\n`));
      uploader.write(half);
      await new Promise((r) => setTimeout(r, 200));

      const sigterm = Date.now();
      server.kill('SIGTERM');

      await idle.waitClosed(3000, 'the idle connection closed');
      assert.equal(statusLines(idle.received()).length, 1, 'nothing more on the idle connection');

      // The tail ends (Redis: without a terminal event, so the viewer reconnects); the
      // viewer reconnects on the connection it has. That request is not answered: the
      // connection closes, and a new one would find the port closed (another instance).
      await viewer.until((t) => t.endsWith('0\r\n\r\n'), 10000, "the tail's end");
      viewer.write(head('GET', stream, 'Accept: text/event-stream\r\nLast-Event-ID: 0\r\n'));
      await viewer.waitClosed(3000, "the viewer's old connection closed");
      assert.deepEqual(statusLines(viewer.received()), ['HTTP/1.1 200 OK'], 'the reconnect on the old connection got no answer (no 503)');

      // The upload in flight completes, with Connection: close, and its connection closes.
      uploader.write(half);
      await uploader.until((t) => statusLines(t).length === 1 && t.includes('\r\n\r\n'), 5000, "the upload's answer");
      assert.match(uploader.received(), /^HTTP\/1\.1 204 /);
      assert.match(uploader.received(), /\r\nConnection: close\r\n/i);
      await uploader.waitClosed(3000, "the uploader's connection closed");

      // Nothing held the shutdown for its 20 s grace period.
      await server.exited();
      assert.equal(server.process.exitCode, 0, server.output());
      assert.ok(Date.now() - sigterm < 10000, `the shutdown took ${Date.now() - sigterm} ms`);
      for (const c of [idle, viewer, uploader]) c.destroy();
    });
  });
}
