// CORS and the limits that protect the service from greedy or slow clients (docs/SECURITY.md).
import assert from 'node:assert/strict';
import net from 'node:net';
import { openRaw } from './support/raw-reader.ts';
import { startTestServer, type TestServer } from './support/in-process-server.ts';
import { lineEvents, openSse, type SseSession } from './support/sse-reader.ts';
import { ROUTES } from './support/route-table.ts';

function rawExchange(port: number, request: string, waitMs = 5000): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    socket.on('data', (c) => {
      data += c.toString();
    });
    const done = () => resolve(data);
    socket.on('close', done);
    socket.on('error', done);
    setTimeout(() => {
      socket.destroy();
    }, waitMs);
  });
}

describe('CORS', function () {
  this.timeout(20000);
  let open: TestServer;
  let restricted: TestServer;
  let dev: TestServer;
  before(async () => {
    open = await startTestServer({ LOG_SERVICE_GLOBAL_TOKEN: 'cors-token' });
    dev = await startTestServer();
    restricted = await startTestServer({ LOG_SERVICE_CORS_ORIGINS: 'https://ci.example.com, https://logs.example.com' });
  });
  after(async () => {
    await open.destroy();
    await restricted.destroy();
    await dev.destroy();
  });

  it('sends no CORS headers by default in development mode (no token), so web pages cannot read local logs', async () => {
    const res = await fetch(`${dev.url}/stream/info?accountID=a`, { headers: { Origin: 'https://evil.example' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
  });

  it('refuses requests for other host names in development mode (DNS rebinding)', async () => {
    const reply = await rawExchange(dev.port, 'GET /stream/info?accountID=a HTTP/1.1\r\nHost: evil.example:8079\r\nConnection: close\r\n\r\n');
    assert.match(reply, /^HTTP\/1\.1 403/);
    assert.match(reply, /"error_code":"LOGSVC_FORBIDDEN"/);
    const ok = await rawExchange(dev.port, 'GET /healthz HTTP/1.1\r\nHost: localhost:8079\r\nConnection: close\r\n\r\n');
    assert.match(ok, /^HTTP\/1\.1 200/);
  });

  it('answers a preflight on every route family with methods, the headers clients send, and a max age', async () => {
    for (const path of ['/stream?accountID=a&key=k', '/ci/p/b/s/t/stream', '/blob?accountID=a&key=k', '/ci/p/b/s/t/blob', '/token']) {
      const res = await fetch(`${open.url}${path}`, {
        method: 'OPTIONS',
        headers: {
          Origin: 'https://anywhere.example',
          'Access-Control-Request-Method': 'PUT',
          'Access-Control-Request-Headers': 'x-harness-token, last-event-id',
        },
      });
      assert.equal(res.status, 204, path);
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
      assert.match(res.headers.get('access-control-allow-methods')!, /PUT/);
      for (const h of ['X-Harness-Token', 'Authorization', 'Content-Type', 'Last-Event-ID']) {
        assert.match(res.headers.get('access-control-allow-headers')!, new RegExp(h));
      }
    }
  });

  it('answers a preflight, before auth, for every route in the security route table', async () => {
    for (const route of ROUTES) {
      const res = await fetch(`${open.url}${route.path}`, {
        method: 'OPTIONS',
        headers: {
          Origin: 'https://viewer.example',
          'Access-Control-Request-Method': route.method,
          'Access-Control-Request-Headers': 'x-harness-token, authorization, content-type, last-event-id',
        },
      });
      const where = `${route.method} ${route.path}`;
      assert.equal(res.status, 204, where);
      assert.equal(res.headers.get('access-control-allow-origin'), '*', where);
      const methods = (res.headers.get('access-control-allow-methods') ?? '').split(',').map((m) => m.trim());
      assert.ok(methods.includes(route.method), `${where}: Allow-Methods ${methods.join(', ')}`);
      const allowed = (res.headers.get('access-control-allow-headers') ?? '').split(',').map((h) => h.trim().toLowerCase());
      for (const h of ['X-Harness-Token', 'Authorization', 'Content-Type', 'Last-Event-ID', 'Range', 'If-None-Match', 'If-Range']) {
        assert.ok(allowed.includes(h.toLowerCase()), `${where}: Access-Control-Allow-Headers lacks ${h}: ${allowed.join(', ')}`);
      }
      assert.ok(Number(res.headers.get('access-control-max-age')) > 0, `${where}: a max age`);
    }
  });

  it('exposes the headers clients read on normal responses', async () => {
    const res = await fetch(`${open.url}/healthz`, { headers: { Origin: 'https://x.example' } });
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.match(res.headers.get('access-control-expose-headers')!, /Content-Range/);
    assert.match(res.headers.get('access-control-expose-headers')!, /ETag/);
  });

  it('allows only the configured origins when a list is set', async () => {
    const ok = await fetch(`${restricted.url}/healthz`, { headers: { Origin: 'https://logs.example.com' } });
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://logs.example.com');
    assert.equal(ok.headers.get('vary'), 'Origin');
    const no = await fetch(`${restricted.url}/healthz`, { headers: { Origin: 'https://evil.example' } });
    assert.equal(no.headers.get('access-control-allow-origin'), null);
  });
});

describe('limits', function () {
  this.timeout(30000);
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      LOG_SERVICE_MAX_TAILS_PER_ACCOUNT: '3',
      LOG_SERVICE_TAIL_MAX_SECONDS: '1',
      LOG_SERVICE_REQUEST_TIMEOUT_SECONDS: '1',
      LOG_SERVICE_MAX_HEADER_BYTES: '4096',
      LOG_SERVICE_MAX_LINE_BYTES: '1KiB',
      LOG_SERVICE_MAX_PUSH_BYTES: '64KiB',
      LOG_SERVICE_MAX_BLOB_BYTES: '1MiB',
      LOG_SERVICE_PING_INTERVAL_SECONDS: '0.2',
    });
  });
  after(async () => server.destroy());
  const h = (k: string) => `${server.url}/stream?accountID=limited&key=${k}`;

  it('refuses a tail beyond the per-account limit with 429 LOGSVC_TOO_MANY_TAILS, and accepts again once one ends', async () => {
    await fetch(h('t'), { method: 'POST' });
    const tails = await Promise.all([1, 2, 3].map(() => openSse(h('t'))));
    const refused = await fetch(h('t'));
    assert.equal(refused.status, 429);
    assert.equal(((await refused.json()) as { error_code: string }).error_code, 'LOGSVC_TOO_MANY_TAILS');
    const otherAccount = await openSse(`${server.url}/stream?accountID=someone-else&key=t`);
    assert.equal(otherAccount.status, 200, 'other accounts are not affected');
    tails[0]!.close();
    await new Promise((r) => setTimeout(r, 200));
    const again = await openSse(h('t'));
    assert.equal(again.status, 200);
    for (const t of [...tails, again, otherAccount]) t.close();
  });

  it('ends a tail after its maximum lifetime without a terminal event, and the viewer resumes by id', async () => {
    await fetch(h('life'), { method: 'POST' });
    await fetch(h('life'), { method: 'PUT', body: 'a\nb\n', headers: { 'Content-Type': 'text/plain' } });
    const first = await openSse(h('life'));
    await first.ended(5000);
    assert.doesNotMatch(first.raw(), /event: (error|eof)/);
    assert.match(first.raw(), /: reconnect/);
    const last = lineEvents(first.events()).pop()!.id!;
    await fetch(h('life'), { method: 'PUT', body: 'c\n', headers: { 'Content-Type': 'text/plain' } });
    const second = await openSse(h('life'), { 'Last-Event-ID': last });
    await second.until((evs) => lineEvents(evs).length === 1);
    assert.deepEqual(
      lineEvents(second.events()).map((e) => e.id),
      ['2'],
    );
    second.close();
  });

  it('ends a raw tail (/ci/…/raw) after its maximum lifetime; resuming at X-Log-Offset + bytes received has no gap and no duplicate', async () => {
    const ci = (suffix: string) => `${server.url}/ci/p/rawlife/s/t/${suffix}?accountID=limited`;
    const push = (text: string) => fetch(ci('stream'), { method: 'PUT', body: text, headers: { 'Content-Type': 'text/plain' } });
    await fetch(ci('stream'), { method: 'POST' });
    await push('a\nb\n');
    const started = Date.now();
    const first = await openRaw(ci('raw'));
    assert.equal(first.status, 200);
    assert.equal(first.offset, '0');
    await first.until((t) => t === 'a\nb\n');
    await push('c é\n'); // arrives while the first response is live
    await first.until((t) => t === 'a\nb\nc é\n');
    await first.ended(5000);
    const lasted = Date.now() - started;
    assert.ok(lasted >= 900 && lasted < 4000, `the response ended after ${lasted} ms (LOG_SERVICE_TAIL_MAX_SECONDS=1)`);
    const info = (await (await fetch(`${server.url}/stream/info?accountID=limited`)).json()) as { streams: Record<string, unknown> };
    assert.ok('p/rawlife/s/t' in info.streams, 'the stream is still open: the lifetime ended the response, not the stream');
    await push('d\n');
    const resumeAt = Number(first.offset) + Buffer.byteLength(first.text());
    const second = await openRaw(`${ci('raw')}&offset=${resumeAt}`);
    assert.equal(second.offset, String(resumeAt));
    await second.until((t) => t === 'd\n');
    await push('e\n');
    await second.until((t) => t === 'd\ne\n');
    second.close();
    assert.equal(first.text() + second.text(), 'a\nb\nc é\nd\ne\n', 'no gap, no duplicate');
  });

  it('answers a push whose body stalls with 408 LOGSVC_REQUEST_TIMEOUT', async () => {
    await fetch(h('slow'), { method: 'POST' });
    const reply = await rawExchange(
      server.port,
      'PUT /stream?accountID=limited&key=slow HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n[{"out":',
      4000,
    );
    assert.match(reply, /^HTTP\/1\.1 408/);
    assert.match(reply, /"error_code":"LOGSVC_REQUEST_TIMEOUT"/);
  });

  it('answers oversized headers with 431 and a JSON error', async () => {
    const reply = await rawExchange(server.port, `GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(8000)}\r\n\r\n`);
    assert.match(reply, /^HTTP\/1\.1 431/);
    assert.match(reply, /"error_code":"LOGSVC_HEADERS_TOO_LARGE"/);
  });

  it('answers a request that is not HTTP with 400 and a JSON error', async () => {
    const reply = await rawExchange(server.port, 'HELLO THERE\r\n\r\n');
    assert.match(reply, /^HTTP\/1\.1 400/);
    assert.match(reply, /"error_code":"LOGSVC_BAD_REQUEST"/);
  });

  it('applies the configured push body, line and blob limits', async () => {
    await fetch(h('lim'), { method: 'POST' });
    const big = await fetch(h('lim'), { method: 'PUT', body: 'x'.repeat(70 * 1024), headers: { 'Content-Type': 'text/plain' } });
    assert.equal(big.status, 413);
    await fetch(h('lim'), { method: 'PUT', body: JSON.stringify([{ out: 'y'.repeat(5000) }]), headers: { 'Content-Type': 'application/json' } });
    await fetch(h('lim'), { method: 'DELETE' });
    const sse = await openSse(h('lim'));
    await sse.until((evs) => lineEvents(evs).length === 1);
    const out = (JSON.parse(lineEvents(sse.events())[0]!.data!) as { out: string }).out;
    assert.ok(out.length < 1100, `line cut to about 1 KiB, got ${out.length}`);
    sse.close();
    const blob = await fetch(`${server.url}/blob?accountID=limited&key=big`, { method: 'PUT', body: Buffer.alloc(2 * 1024 * 1024) });
    assert.equal(blob.status, 413);
    assert.equal((await fetch(`${server.url}/blob?accountID=limited&key=big`)).status, 404, 'nothing stored');
    const chunked = await fetch(`${server.url}/blob?accountID=limited&key=big`, {
      method: 'PUT',
      duplex: 'half',
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 40; i++) c.enqueue(new Uint8Array(64 * 1024));
          c.close();
        },
      }),
    } as RequestInit);
    assert.equal(chunked.status, 413, 'a streamed body without Content-Length is cut at the limit too');
    assert.equal((await fetch(`${server.url}/blob?accountID=limited&key=big`)).status, 404);
  });
});

describe('open tails per account on every tail route', function () {
  this.timeout(30000);
  let server: TestServer;
  before(async () => {
    // A long lifetime: no tail ends by itself while a test counts them.
    server = await startTestServer({ LOG_SERVICE_MAX_TAILS_PER_ACCOUNT: '3', LOG_SERVICE_TAIL_MAX_SECONDS: '60', LOG_SERVICE_PING_INTERVAL_SECONDS: '0.2' });
  });
  after(async () => server.destroy());

  const account = 'tails';
  const kinds = {
    'Harness tail (GET /stream)': () => `${server.url}/stream?accountID=${account}&key=p/b/s/t`,
    'CI tail (GET /ci/…/stream)': () => `${server.url}/ci/p/b/s/t/stream?accountID=${account}`,
    'CI raw tail (GET /ci/…/raw)': () => `${server.url}/ci/p/b/s/t/raw?accountID=${account}`,
    'Harness raw tail (GET /stream/raw)': () => `${server.url}/stream/raw?accountID=${account}&key=p/b/s/t`,
  };
  type Kind = keyof typeof kinds;
  const isRaw = (kind: Kind) => kind.includes('raw');
  async function openTail(kind: Kind): Promise<{ status: number; code?: string; close(): void }> {
    if (isRaw(kind)) return openRaw(kinds[kind]());
    const sse: SseSession = await openSse(kinds[kind]());
    let code: string | undefined;
    if (sse.status >= 400) {
      await sse.ended(5000);
      code = (/"error_code":"(\w+)"/.exec(sse.raw()) ?? [])[1];
    }
    return { status: sse.status, code, close: () => sse.close() };
  }
  async function allReleased(): Promise<void> {
    const deadline = Date.now() + 5000;
    while (server.services.context.tails.total() > 0) {
      assert.ok(Date.now() < deadline, `${server.services.context.tails.total()} tails still counted`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  before(async () => {
    // A stream with a line, so raw tails send their headers at once.
    await fetch(`${server.url}/stream?accountID=${account}&key=p/b/s/t`, { method: 'POST' });
    await fetch(`${server.url}/stream?accountID=${account}&key=p/b/s/t`, { method: 'PUT', body: 'x\n', headers: { 'Content-Type': 'text/plain' } });
    await fetch(`${server.url}/stream?accountID=elsewhere&key=p/b/s/t`, { method: 'POST' });
    await fetch(`${server.url}/stream?accountID=elsewhere&key=p/b/s/t`, { method: 'PUT', body: 'y\n', headers: { 'Content-Type': 'text/plain' } });
  });

  for (const kind of Object.keys(kinds) as Kind[]) {
    it(`refuses a ${kind} beyond the limit with 429 LOGSVC_TOO_MANY_TAILS, and accepts again once one ends`, async () => {
      const open = [];
      for (let i = 0; i < 3; i++) open.push(await openTail(kind));
      assert.deepEqual(
        open.map((t) => t.status),
        [200, 200, 200],
      );
      const refused = await openTail(kind);
      assert.deepEqual([refused.status, refused.code], [429, 'LOGSVC_TOO_MANY_TAILS']);
      const elsewhere = isRaw(kind)
        ? await openRaw(`${server.url}/ci/p/b/s/t/raw?accountID=elsewhere`)
        : await openSse(`${server.url}/ci/p/b/s/t/stream?accountID=elsewhere`);
      assert.equal(elsewhere.status, 200, 'another account is not affected');
      elsewhere.close();
      open.shift()!.close();
      const deadline = Date.now() + 5000;
      while (server.services.context.tails.total() >= 3) {
        assert.ok(Date.now() < deadline, 'the closed tail is released');
        await new Promise((r) => setTimeout(r, 20));
      }
      const again = await openTail(kind);
      assert.equal(again.status, 200, 'a slot is free again');
      for (const t of [...open, again]) t.close();
      await allReleased();
    });
  }

  it('counts SSE and raw tails together: with one of each open, every tail route is refused', async () => {
    const open = [
      await openTail('CI tail (GET /ci/…/stream)'),
      await openTail('CI raw tail (GET /ci/…/raw)'),
      await openTail('Harness raw tail (GET /stream/raw)'),
    ];
    assert.deepEqual(
      open.map((t) => t.status),
      [200, 200, 200],
    );
    for (const kind of Object.keys(kinds) as Kind[]) {
      const refused = await openTail(kind);
      assert.deepEqual([refused.status, refused.code], [429, 'LOGSVC_TOO_MANY_TAILS'], kind);
    }
    for (const t of open) t.close();
    await allReleased();
  });

  // handler/raw-tail.ts start() flushes the headers: without it nothing is sent until a byte arrives.
  it('answers a raw tail at once, before the next byte, when it resumes at the end of a quiet stream (or tails an empty one)', async () => {
    // After a lifetime cut on a quiet stream, the viewer resumes at the current end: it must get
    // its headers (X-Log-Offset) now, not when the next line arrives or the lifetime ends (60 s here).
    await fetch(`${server.url}/ci/p/quiet/s/t/stream?accountID=${account}`, { method: 'POST' });
    await fetch(`${server.url}/ci/p/quiet/s/t/stream?accountID=${account}`, { method: 'PUT', body: 'ab\n', headers: { 'Content-Type': 'text/plain' } });
    await fetch(`${server.url}/ci/p/empty/s/t/stream?accountID=${account}`, { method: 'POST' });
    const failures: string[] = [];
    for (const url of [`${server.url}/ci/p/quiet/s/t/raw?accountID=${account}&offset=3`, `${server.url}/ci/p/empty/s/t/raw?accountID=${account}`]) {
      try {
        const raw = await openRaw(url, 1500);
        assert.equal(raw.status, 200);
        raw.close();
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
    await allReleased();
    assert.deepEqual(failures, [], 'a raw tail with no byte to send still answers at once (handler/raw-tail.ts start() flushes the headers)');
  });
});

describe('slow request headers', function () {
  this.timeout(15000);
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ LOG_SERVICE_REQUEST_TIMEOUT_SECONDS: '2' });
  });
  after(async () => server.destroy());

  // Needs connectionsCheckingInterval in app/http-server.ts: node checks
  // headersTimeout only every 30 s by default, and a byte every 200 ms keeps the socket from idling.
  it('answers 408 (or closes the socket) within ~5 s to a client sending its headers one byte every 200 ms (LOG_SERVICE_REQUEST_TIMEOUT_SECONDS=2)', async () => {
    const request = `GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ${'a'.repeat(200)}\r\n\r\n`;
    const started = Date.now();
    const outcome = await new Promise<{ reply: string; closed: boolean; ms: number }>((resolve) => {
      let reply = '';
      let i = 0;
      let finished = false;
      const socket = net.connect(server.port, '127.0.0.1');
      const finish = (closed: boolean) => {
        if (finished) return;
        finished = true;
        clearInterval(drip);
        clearTimeout(limit);
        socket.destroy();
        resolve({ reply, closed, ms: Date.now() - started });
      };
      const drip = setInterval(() => {
        if (socket.writable && i < request.length) socket.write(request[i++]!);
      }, 200);
      const limit = setTimeout(() => finish(false), 6000);
      socket.on('data', (c) => {
        reply += c.toString();
        if (/^HTTP\/1\.1 \d{3}/.test(reply)) finish(false);
      });
      socket.on('close', () => finish(true));
      socket.on('error', () => finish(true));
    });
    const answered = /^HTTP\/1\.1 408/.test(outcome.reply) || (outcome.closed && outcome.reply === '');
    assert.ok(
      answered && outcome.ms <= 5500,
      `after ${outcome.ms} ms: ${outcome.closed ? 'socket closed' : 'socket still open'}, reply ${JSON.stringify(outcome.reply.slice(0, 80))} ` +
        '(is connectionsCheckingInterval still set in app/http-server.ts?)',
    );
    if (outcome.reply !== '') assert.match(outcome.reply, /"error_code":"LOGSVC_REQUEST_TIMEOUT"/);
  });
});
