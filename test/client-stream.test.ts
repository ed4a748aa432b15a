// The client's stream calls: how push batches lines, and how tail follows an
// SSE stream across broken connections — against small real node:http servers
// that play the server's side of docs/PROTOCOL.md §4 and §6 as each test scripts it.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LogServiceClient, LogServiceError } from '../client/index.ts';
import { freePort } from './support/server-process.ts';
import { collectTail as collect } from './support/tail-events.ts';

interface Push {
  at: number;
  contentType: string | undefined;
  lines: { out: string; level?: string }[];
}

async function listen(handler: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Accepts NDJSON pushes and records them. */
async function pushSink(status = 204): Promise<{ url: string; pushes: Push[]; close(): Promise<void> }> {
  const pushes: Push[] = [];
  const s = await listen((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      pushes.push({
        at: Date.now(),
        contentType: req.headers['content-type'],
        lines: text
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as { out: string }),
      });
      if (status === 204) res.writeHead(204).end();
      else
        res
          .writeHead(status, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error_msg: 'a line is not a valid log line', error_code: 'LOGSVC_INVALID_LINE' }));
    });
  });
  return { ...s, pushes };
}

const step = { project: 'web', build: '42', stage: 'test', step: 'unit' };
const sseHead = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };
const lineEvent = (seq: number) => `id: ${seq}\ndata: ${JSON.stringify({ level: 'info', pos: seq, out: `line ${seq}\n`, time: '2026-01-01T00:00:00Z' })}\n\n`;

describe('client push: batching', function () {
  this.timeout(20_000);
  let sink: Awaited<ReturnType<typeof pushSink>>;
  afterEach(async () => sink?.close());

  it('sends 2500 lines as NDJSON batches of at most 1000 lines, in order', async () => {
    sink = await pushSink();
    const lines = Array.from({ length: 2500 }, (_, i) => ({ out: `line ${i}\n`, level: 'debug' }));
    const result = await new LogServiceClient({ server: sink.url }).stream(step).push(lines);
    assert.deepEqual(result, { lines: 2500, requests: 3 });
    assert.deepEqual(
      sink.pushes.map((p) => p.lines.length),
      [1000, 1000, 500],
    );
    assert.ok(sink.pushes.every((p) => p.contentType === 'application/x-ndjson'));
    assert.deepEqual(
      sink.pushes.flatMap((p) => p.lines),
      lines,
    );
  });

  it("cuts batches at maxBytes so no request approaches the server's 8 MiB limit", async () => {
    sink = await pushSink();
    const big = 'x'.repeat(60_000);
    await new LogServiceClient({ server: sink.url }).stream(step).push(Array.from({ length: 20 }, () => `${big}\n`));
    assert.ok(sink.pushes.length >= 5, `${sink.pushes.length} requests`);
    assert.equal(sink.pushes.flatMap((p) => p.lines).length, 20);
  });

  it('turns a string into lines that keep their trailing newlines, and a message array into one line each', async () => {
    sink = await pushSink();
    const stream = new LogServiceClient({ server: sink.url }).stream(step);
    await stream.push('a\nb\n\nc');
    await stream.push(['first', 'second\n'], { level: 'warn' });
    assert.deepEqual(sink.pushes[0]?.lines, [{ out: 'a\n' }, { out: 'b\n' }, { out: '\n' }, { out: 'c' }]);
    assert.deepEqual(sink.pushes[1]?.lines, [
      { level: 'warn', out: 'first\n' },
      { level: 'warn', out: 'second\n' },
    ]);
  });

  it('splits streamed text at newlines across chunk boundaries and cuts over-long lines without losing a byte', async () => {
    sink = await pushSink();
    const long = 'é'.repeat(40_000); // 80 000 UTF-8 bytes: over the 64 KiB line limit
    const chunks = ['ab', 'c\nde', 'f\n', long.slice(0, 100), long.slice(100), '\nend'];
    async function* source() {
      for (const c of chunks) yield Buffer.from(c, 'utf8');
    }
    await new LogServiceClient({ server: sink.url }).stream(step).push(source());
    const outs = sink.pushes.flatMap((p) => p.lines.map((l) => l.out));
    assert.equal(outs.join(''), chunks.join(''));
    assert.deepEqual(outs.slice(0, 2), ['abc\n', 'def\n']);
    assert.ok(outs.every((o) => Buffer.byteLength(o) <= 64 * 1024));
    assert.equal(outs.at(-1), 'end');
  });

  it("sends a slow producer's line within the batch interval instead of waiting for more", async () => {
    sink = await pushSink();
    let yieldedAt = 0;
    async function* slow() {
      yieldedAt = Date.now();
      yield 'first line\n';
      await new Promise((r) => setTimeout(r, 600));
      yield 'second line\n';
    }
    await new LogServiceClient({ server: sink.url }).stream(step).push(slow(), { batch: { intervalMs: 100 } });
    assert.equal(sink.pushes.length, 2);
    const delay = (sink.pushes[0]?.at ?? 0) - yieldedAt;
    assert.ok(delay < 450, `the first line arrived after ${delay} ms`);
  });

  it('stops at the first rejected batch and rejects with its error, sending nothing after it', async () => {
    sink = await pushSink(400);
    const lines = Array.from({ length: 3000 }, (_, i) => ({ out: `${i}\n` }));
    await assert.rejects(new LogServiceClient({ server: sink.url }).stream(step).push(lines), (err: LogServiceError) => {
      assert.equal(err.code, 'LOGSVC_INVALID_LINE');
      return true;
    });
    assert.equal(sink.pushes.length, 1);
  });
});

describe('client tail: SSE with reconnects', function () {
  this.timeout(20_000);
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });
  async function sse(handler: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void) {
    let n = 0;
    const requests: http.IncomingMessage[] = [];
    const s = await listen((req, res) => {
      requests.push(req);
      handler(req, res, ++n);
    });
    closers.push(s.close);
    return { ...s, requests };
  }
  const client = (url: string) => new LogServiceClient({ server: url, retryDelayMs: 20 });

  it('resumes after a broken connection with Last-Event-ID: every line once, in order', async () => {
    const s = await sse((req, res, n) => {
      res.writeHead(200, sseHead);
      if (n === 1) {
        res.write(`retry: 50\n: ping\n\n${lineEvent(0)}${lineEvent(1)}${lineEvent(2)}`);
        setTimeout(() => req.socket.destroy(), 50);
      } else {
        // A server that repeats the last line it sent must not make the client print it twice.
        res.end(`retry: 50\n\n${lineEvent(2)}${lineEvent(3)}${lineEvent(4)}event: eof\ndata: eof\n\n`);
      }
    });
    const events = await collect(client(s.url).stream(step).tail());
    assert.deepEqual(events, ['0:line 0', '1:line 1', '2:line 2', '3:line 3', '4:line 4']);
    assert.equal(s.requests.length, 2);
    assert.equal(s.requests[0]?.headers['last-event-id'], undefined);
    assert.equal(s.requests[1]?.headers['last-event-id'], '2');
    assert.equal(s.requests[0]?.headers.accept, 'text/event-stream');
  });

  it('ends at the Harness terminal event (event: error, data: eof)', async () => {
    const s = await sse((_req, res) => {
      res.writeHead(200, sseHead);
      res.write(`${lineEvent(0)}event: error\ndata: eof\n\n`); // the response stays open: the event alone ends the tail
    });
    assert.deepEqual(await collect(client(s.url).stream({ accountID: 'acct', key: 'a/b' }).tail()), ['0:line 0']);
    assert.equal(s.requests[0]?.url, '/stream?accountID=acct&key=a%2Fb');
  });

  it("reports the server's dropped ranges and turns an unreported gap into one, never skipping silently", async () => {
    const s = await sse((_req, res) => {
      res.writeHead(200, sseHead);
      res.end(`${lineEvent(0)}event: dropped\ndata: {"from":1,"to":4}\n\n${lineEvent(5)}${lineEvent(7)}event: eof\ndata: eof\n\n`);
    });
    assert.deepEqual(await collect(client(s.url).stream(step).tail()), ['0:line 0', 'dropped 1-4', '5:line 5', 'dropped 6-6', '7:line 7']);
  });

  it('asks for ?tail=N first, and resumes from `from` with Last-Event-ID', async () => {
    const s = await sse((_req, res) => {
      res.writeHead(200, sseHead);
      res.end(`${lineEvent(10)}event: eof\ndata: eof\n\n`);
    });
    await collect(client(s.url).stream(step).tail({ tail: 5 }));
    await collect(client(s.url).stream(step).tail({ from: 9 }));
    assert.equal(s.requests[0]?.url, '/ci/web/42/test/unit/stream?tail=5');
    assert.equal(s.requests[1]?.url, '/ci/web/42/test/unit/stream');
    assert.equal(s.requests[1]?.headers['last-event-id'], '9');
  });

  it("fails with the server's 404 code when there is no such stream, without reconnecting", async () => {
    const s = await sse((_req, res) => {
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error_msg: 'no stream or log for "web/42/test/unit"', error_code: 'LOGSVC_STREAM_NOT_FOUND' }));
    });
    await assert.rejects(collect(client(s.url).stream(step).tail()), (err: LogServiceError) => err.code === 'LOGSVC_STREAM_NOT_FOUND' && err.status === 404);
    assert.equal(s.requests.length, 1);
  });

  it('reconnects when the connection goes silent for longer than idleTimeoutMs', async () => {
    const s = await sse((_req, res, n) => {
      res.writeHead(200, sseHead);
      if (n === 1)
        res.write(`retry: 50\n${lineEvent(0)}`); // then silence, no pings
      else res.end(`${lineEvent(1)}event: eof\ndata: eof\n\n`);
    });
    const started = Date.now();
    assert.deepEqual(await collect(client(s.url).stream(step).tail({ idleTimeoutMs: 300 })), ['0:line 0', '1:line 1']);
    assert.equal(s.requests[1]?.headers['last-event-id'], '0');
    assert.ok(Date.now() - started < 5000);
  });

  it('does not count a slow consumer as a silent server', async () => {
    const s = await sse((_req, res) => {
      res.writeHead(200, sseHead);
      res.end(`${lineEvent(0)}${lineEvent(1)}event: eof\ndata: eof\n\n`);
    });
    const seen: number[] = [];
    for await (const e of client(s.url).stream(step).tail({ idleTimeoutMs: 100 })) {
      if (e.type === 'line') seen.push(e.seq);
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.deepEqual(seen, [0, 1]);
    assert.equal(s.requests.length, 1);
  });

  it('closes the connection when the consumer stops early with break', async () => {
    let closed = false;
    const s = await sse((req, res) => {
      res.writeHead(200, sseHead);
      res.write(lineEvent(0));
      req.socket.on('close', () => {
        closed = true;
      });
    });
    for await (const e of client(s.url).stream(step).tail()) {
      assert.equal(e.type, 'line');
      break;
    }
    for (let i = 0; i < 50 && !closed; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(closed, 'the server saw the connection close');
  });

  it("stops with LOGSVC_ABORTED when the caller's signal fires", async () => {
    const s = await sse((_req, res) => {
      res.writeHead(200, sseHead);
      res.write(lineEvent(0));
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 150);
    await assert.rejects(collect(client(s.url).stream(step).tail({ signal: controller.signal })), (err: LogServiceError) => err.code === 'LOGSVC_ABORTED');
  });

  it('fails as fast as any call when the server was never reachable', async () => {
    const port = await freePort();
    const started = Date.now();
    await assert.rejects(
      collect(client(`http://127.0.0.1:${port}`).stream(step).tail({ reconnectForMs: 60_000 })),
      (err: LogServiceError) => err.code === 'LOGSVC_NETWORK',
    );
    assert.ok(Date.now() - started < 3000, `gave up after ${Date.now() - started} ms`);
  });

  it('gives up with LOGSVC_NETWORK when the server stays unreachable for reconnectForMs', async () => {
    const s = await sse((req, res) => {
      res.writeHead(200, sseHead);
      res.write(`retry: 50\n${lineEvent(0)}`);
      setTimeout(() => {
        req.socket.destroy();
        void s.close();
      }, 50);
    });
    const seen: string[] = [];
    const started = Date.now();
    await assert.rejects(
      (async () => {
        for await (const e of client(s.url).stream(step).tail({ reconnectForMs: 500 })) seen.push(e.type);
      })(),
      (err: LogServiceError) => err.code === 'LOGSVC_NETWORK',
    );
    assert.deepEqual(seen, ['line']);
    assert.ok(Date.now() - started < 5000, `gave up after ${Date.now() - started} ms`);
  });
});
