// A push through an outage, against small real node:http servers that answer
// what each test scripts: the source is read into the push's buffer (memory,
// then a temporary file) whatever the server does, batches are retried with
// their X-Push-Id for `retryForMs`, the push says when it starts retrying and
// when it recovers, opens a stream lost in the outage again, and gives up with
// how many lines did not get through. Also the batching itself: few large
// requests against a slow server, a quiet producer's lines within the interval.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { LogServiceClient, PushError, type PushEvent } from '../client/index.ts';
import { PushSpool } from '../client/push-spool.ts';
import { freePort } from './support/server-process.ts';

interface Push {
  id: string | undefined;
  outs: string[];
  at: number;
}
type Reply = (req: http.IncomingMessage, res: http.ServerResponse, n: number, body: string) => void;

async function scripted(reply: Reply, port = 0): Promise<{ url: string; requests: Push[]; methods: string[]; close(): Promise<void> }> {
  const requests: Push[] = [];
  const methods: string[] = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      methods.push(req.method ?? '');
      if (req.method === 'PUT') {
        const outs = body
          .trimEnd()
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => (JSON.parse(l) as { out: string }).out);
        requests.push({ id: req.headers['x-push-id'] as string | undefined, outs, at: Date.now() });
      }
      reply(req, res, ++n, body);
    });
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    methods,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};
const unavailable = (res: http.ServerResponse) => json(res, 503, { error_msg: 'redis unavailable', error_code: 'LOGSVC_BACKEND_UNAVAILABLE' });
const notFound = (res: http.ServerResponse) => json(res, 404, { error_msg: 'no stream "web/42/test/unit"', error_code: 'LOGSVC_STREAM_NOT_FOUND' });
const step = { project: 'web', build: '42', stage: 'test', step: 'unit' };
const numbered = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `line ${from + i}\n`);

/** What the server stored: each distinct X-Push-Id once, as a server that honours it would. */
function stored(requests: Push[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const r of requests) {
    if (r.id !== undefined && seen.has(r.id)) continue;
    if (r.id !== undefined) seen.add(r.id);
    out.push(...r.outs);
  }
  return out;
}

describe('client push: batching', function () {
  this.timeout(20_000);
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });

  it('gathers lines into fewer, bigger batches while a slow send is in flight, one request at a time, keeping order and every line', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const s = await scripted((_req, res) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      setTimeout(() => {
        inFlight--;
        res.writeHead(204).end();
      }, 150); // a slow server
    });
    closers.push(s.close);
    async function* producer() {
      for (let i = 0; i < 200; i++) {
        yield `${i}\n`;
        await new Promise((r) => setTimeout(r, 3));
      }
    }
    const result = await new LogServiceClient({ server: s.url })
      .stream(step)
      .push(producer(), { batch: { maxLines: 1000, maxBytes: 1 << 20, intervalMs: 10 } });
    assert.equal(result.lines, 200);
    assert.deepEqual(
      s.requests.flatMap((r) => r.outs),
      Array.from({ length: 200 }, (_, i) => `${i}\n`),
    );
    assert.equal(maxInFlight, 1, 'one request at a time');
    // ~1 s of producing at 150 ms per request: about 7 requests, not one per 10 ms interval.
    assert.ok(result.requests <= 12, `${result.requests} requests`);
  });

  it("still sends a quiet producer's line within the interval", async () => {
    const s = await scripted((_req, res) => res.writeHead(204).end());
    closers.push(s.close);
    const source = new PassThrough();
    const start = Date.now();
    const pushing = new LogServiceClient({ server: s.url }).stream(step).push(source, { batch: { intervalMs: 20 } });
    source.write('one\n');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(s.requests.length, 1, 'sent on its own, before the source ended');
    assert.ok(s.requests[0]!.at - start < 250, `${s.requests[0]!.at - start} ms`);
    source.end();
    assert.deepEqual(await pushing, { lines: 1, requests: 1 });
  });
});

describe('client push: the buffer', function () {
  this.timeout(20_000);
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'push-spool-test-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps order through memory and its temporary file, which has no name while in use and is gone at close', async () => {
    const spool = new PushSpool({ memoryBytes: 64 * 1024, maxBytes: 64 * 1024 * 1024, dir });
    const records = Array.from({ length: 50_000 }, (_, i) => JSON.stringify({ out: `record ${i} ${'é'.repeat(i % 7)}\n` }));
    for (const r of records) assert.equal(spool.add(r), true);
    spool.end();
    assert.equal(spool.spilled, true);
    await new Promise((r) => setTimeout(r, 200)); // the file is being written
    const got: string[] = [];
    let sawFileDir = readdirSync(dir).length > 0;
    for (
      let batch = await spool.nextBatch({ maxLines: 1000, maxBytes: 256 * 1024, intervalMs: 100 });
      batch !== undefined;
      batch = await spool.nextBatch({ maxLines: 1000, maxBytes: 256 * 1024, intervalMs: 100 })
    ) {
      got.push(...batch.body.toString('utf8').trimEnd().split('\n'));
      sawFileDir ||= readdirSync(dir).length > 0;
    }
    assert.deepEqual(got, records);
    assert.equal(sawFileDir, false, 'the temporary file is unlinked as soon as it is open');
    await spool.close();
    assert.deepEqual(readdirSync(dir), []);
    assert.equal(spool.lost, 0);
  });

  it('refuses a line past maxBytes (the push then waits or drops), and takes lines again once a batch went out', async () => {
    const spool = new PushSpool({ memoryBytes: 1000, maxBytes: 2000, dir });
    let added = 0;
    while (spool.add(JSON.stringify({ out: `${'x'.repeat(80)}\n` }))) added++;
    assert.ok(added >= 19 && added <= 22, `${added} records`);
    assert.ok(spool.pendingBytes <= 2000);
    const batch = await spool.nextBatch({ maxLines: 5, maxBytes: 1 << 20, intervalMs: 0 });
    assert.equal(batch?.lines, 5);
    assert.equal(spool.add(JSON.stringify({ out: 'more\n' })), true);
    await spool.close();
  });
});

describe('client push: through an outage', function () {
  this.timeout(30_000);
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });
  async function serve(reply: Reply, port?: number) {
    const s = await scripted(reply, port);
    closers.push(s.close);
    return s;
  }
  const client = (url: string, extra: Partial<ConstructorParameters<typeof LogServiceClient>[0]> = {}) =>
    new LogServiceClient({ server: url, retryDelayMs: 20, ...extra });

  it('retries 503s with the same X-Push-Id, keeps reading its source meanwhile, says when it starts retrying and when it recovers', async () => {
    let down = true;
    const s = await serve((_req, res) => (down ? unavailable(res) : res.writeHead(204).end()));
    const events: PushEvent[] = [];
    const source = new PassThrough();
    const pushing = client(s.url)
      .stream(step)
      .push(source, { onEvent: (e) => events.push(e), retryForMs: 10_000 });
    const lines = numbered(5000);
    // The producer writes everything while the server is down, and is never held up.
    for (const line of lines) source.write(line);
    source.end();
    await new Promise((r) => setTimeout(r, 700));
    assert.deepEqual(
      events.map((e) => e.type),
      ['retrying'],
    );
    assert.equal(source.writableLength, 0, 'the push read its source while the server was down');
    down = false;
    const result = await pushing;
    assert.equal(result.lines, 5000);
    assert.deepEqual(stored(s.requests), lines);
    assert.deepEqual(
      events.map((e) => e.type),
      ['retrying', 'recovered'],
    );
    const retrying = events[0] as Extract<PushEvent, { type: 'retrying' }>;
    assert.equal(retrying.error.code, 'LOGSVC_BACKEND_UNAVAILABLE');
    const recovered = events[1] as Extract<PushEvent, { type: 'recovered' }>;
    assert.ok(recovered.attempts > 1 && recovered.afterMs >= 400, JSON.stringify(recovered));
    assert.ok(recovered.pendingLines > 0);
    const firstIds = s.requests.filter((r) => r.outs[0] === 'line 0\n').map((r) => r.id);
    assert.ok(firstIds.length > 1 && new Set(firstIds).size === 1, 'the first batch was retried under one id');
  });

  it('retries a refused connection (the server gone and back) and a connection reset after the request was read', async () => {
    const port = await freePort();
    const source = new PassThrough();
    const events: PushEvent[] = [];
    const pushing = client(`http://127.0.0.1:${port}`)
      .stream(step)
      .push(source, { onEvent: (e) => events.push(e), retryForMs: 10_000 });
    source.write('before\n');
    await new Promise((r) => setTimeout(r, 400));
    // Back, but the first request's answer is lost: the server read it (and would have stored it).
    const s = await serve((req, res, n) => (n === 1 ? req.socket.destroy() : res.writeHead(204).end()), port);
    source.end('after\n');
    assert.deepEqual(await pushing, { lines: 2, requests: 2 });
    assert.deepEqual(stored(s.requests), ['before\n', 'after\n']);
    assert.deepEqual(
      s.requests.map((r) => r.outs),
      [['before\n'], ['before\n'], ['after\n']],
      'the first batch sent twice',
    );
    assert.equal(s.requests[0]?.id, s.requests[1]?.id, 'with one id');
    assert.notEqual(s.requests[1]?.id, s.requests[2]?.id);
    assert.deepEqual(
      events.map((e) => e.type),
      ['retrying', 'recovered'],
    );
  });

  it('gives up once the outage has lasted retryForMs: a PushError with the last failure and the lines not delivered', async () => {
    const s = await serve((_req, res) => unavailable(res));
    const started = Date.now();
    const source = new PassThrough();
    source.write(numbered(300).join(''));
    const pushing = client(s.url).stream(step).push(source, { retryForMs: 800 });
    let err: unknown;
    try {
      await pushing;
    } catch (e) {
      err = e;
    }
    const took = Date.now() - started;
    assert.ok(err instanceof PushError, String(err));
    assert.equal(err.code, 'LOGSVC_BACKEND_UNAVAILABLE');
    assert.equal(err.status, 503);
    assert.equal(err.accepted, 0);
    assert.equal(err.undelivered, 300);
    assert.ok(err.retriedForMs >= 800, `${err.retriedForMs}`);
    assert.match(err.message, /^gave up after 0\.\d s of failures: redis unavailable$/);
    assert.ok(took >= 800 && took < 3000, `${took} ms, with the source still open`);
    source.end();
  });

  it('fails at once on a failure that will not pass (a 404 with no outage before it)', async () => {
    const s = await serve((_req, res) => notFound(res));
    const err = await client(s.url)
      .stream(step)
      .push(numbered(10))
      .catch((e: unknown) => e);
    assert.ok(err instanceof PushError);
    assert.equal(err.code, 'LOGSVC_STREAM_NOT_FOUND');
    assert.equal(err.retriedForMs, 0);
    assert.equal(err.undelivered, 10);
    assert.deepEqual(s.methods, ['PUT'], 'not retried, not reopened');
  });

  it('opens the stream again when it is gone after an outage, and carries on there (reopen: false fails instead)', async () => {
    // 503 twice (Redis restarting), then the stream is gone until it is opened again.
    let open = false;
    const reply: Reply = (req, res, n) => {
      if (req.method === 'POST') {
        open = true;
        res.writeHead(204).end();
      } else if (n <= 2) unavailable(res);
      else if (!open) notFound(res);
      else res.writeHead(204).end();
    };
    const s = await serve(reply);
    const events: PushEvent[] = [];
    const result = await client(s.url)
      .stream(step)
      .push(numbered(3), { onEvent: (e) => events.push(e), reopen: { ttlSeconds: 600 } });
    assert.deepEqual(result, { lines: 3, requests: 1 });
    assert.deepEqual(s.methods, ['PUT', 'PUT', 'PUT', 'POST', 'PUT']);
    assert.deepEqual(
      events.map((e) => e.type),
      ['retrying', 'reopened', 'recovered'],
    );
    assert.deepEqual(s.requests.at(-1)?.outs, numbered(3));

    open = false;
    const again = await serve(reply);
    const err = await client(again.url)
      .stream(step)
      .push(numbered(3), { reopen: false })
      .catch((e: unknown) => e);
    assert.ok(err instanceof PushError);
    assert.equal(err.code, 'LOGSVC_STREAM_NOT_FOUND');
    assert.deepEqual(again.methods, ['PUT', 'PUT', 'PUT']);
  });

  it('drops what does not fit its buffer while the service is down (never holding up the source), and says so at the end', async () => {
    let down = true;
    const s = await serve((_req, res) => (down ? unavailable(res) : res.writeHead(204).end()));
    const events: PushEvent[] = [];
    const source = new PassThrough();
    const pushing = client(s.url)
      .stream(step)
      .push(source, {
        onEvent: (e) => events.push(e),
        retryForMs: 10_000,
        buffer: { memoryBytes: 4096, maxBytes: 16 * 1024 },
      });
    source.write('first\n');
    await new Promise((r) => setTimeout(r, 300)); // the first batch is failing now
    source.write(numbered(2000).join(''));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(source.writableLength, 0, 'the source was read, not held up');
    down = false;
    for (let i = 0; i < 100 && !events.some((e) => e.type === 'recovered'); i++) await new Promise((r) => setTimeout(r, 50));
    source.end('last\n');
    const err = await pushing.catch((e: unknown) => e);
    assert.ok(err instanceof PushError, String(err));
    assert.equal(err.code, 'LOGSVC_INCOMPLETE');
    assert.ok(events.some((e) => e.type === 'buffer-full'));
    const got = stored(s.requests);
    assert.equal(got[0], 'first\n');
    assert.equal(got.at(-1), 'last\n');
    assert.equal(err.accepted, got.length);
    assert.equal(err.undelivered, 2002 - got.length, 'every line is either stored or counted');
    assert.ok(err.undelivered > 1000);
  });
});
