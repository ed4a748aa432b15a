// CORS and the limits that protect the service from greedy or slow clients (DESIGN §8).
import assert from 'node:assert/strict';
import net from 'node:net';
import { startTestServer, type TestServer } from './support/in-process-server.ts';
import { lineEvents, openSse } from './support/sse-reader.ts';

function rawExchange(port: number, request: string, waitMs = 5000): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    socket.on('data', (c) => { data += c.toString(); });
    const done = () => resolve(data);
    socket.on('close', done);
    socket.on('error', done);
    setTimeout(() => { socket.destroy(); }, waitMs);
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
  after(async () => { await open.destroy(); await restricted.destroy(); await dev.destroy(); });

  it('sends no CORS headers by default in development mode (no token), so web pages cannot read local logs', async () => {
    const res = await fetch(`${dev.url}/stream/info?accountID=a`, { headers: { Origin: 'https://evil.example' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
  });

  it('refuses requests for other host names in development mode (DNS rebinding)', async () => {
    const reply = await rawExchange(dev.port, 'GET /stream/info?accountID=a HTTP/1.1\r\nHost: evil.example:8079\r\nConnection: close\r\n\r\n');
    assert.match(reply, /^HTTP\/1\.1 403/);
    assert.match(reply, /"code":"LOGSVC_FORBIDDEN"/);
    const ok = await rawExchange(dev.port, 'GET /healthz HTTP/1.1\r\nHost: localhost:8079\r\nConnection: close\r\n\r\n');
    assert.match(ok, /^HTTP\/1\.1 200/);
  });

  it('answers a preflight on every route family with methods, the headers clients send, and a max age', async () => {
    for (const path of ['/stream?accountID=a&key=k', '/ci/p/b/s/t/stream', '/blob?accountID=a&key=k', '/ci/p/b/s/t/blob', '/token']) {
      const res = await fetch(`${open.url}${path}`, {
        method: 'OPTIONS',
        headers: { Origin: 'https://anywhere.example', 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'x-harness-token, last-event-id' },
      });
      assert.equal(res.status, 204, path);
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
      assert.match(res.headers.get('access-control-allow-methods')!, /PUT/);
      for (const h of ['X-Harness-Token', 'Authorization', 'Content-Type', 'Last-Event-ID']) {
        assert.match(res.headers.get('access-control-allow-headers')!, new RegExp(h));
      }
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
      LOG_SERVICE_MAX_TAILS_PER_ACCOUNT: '3', LOG_SERVICE_TAIL_MAX_SECONDS: '1', LOG_SERVICE_REQUEST_TIMEOUT_SECONDS: '1',
      LOG_SERVICE_MAX_HEADER_BYTES: '4096', LOG_SERVICE_MAX_LINE_BYTES: '1KiB', LOG_SERVICE_MAX_PUSH_BYTES: '64KiB',
      LOG_SERVICE_MAX_BLOB_BYTES: '1MiB', LOG_SERVICE_PING_INTERVAL_SECONDS: '0.2',
    });
  });
  after(async () => server.destroy());
  const h = (k: string) => `${server.url}/stream?accountID=limited&key=${k}`;

  it('refuses a tail beyond the per-account limit with 429 LOGSVC_TOO_MANY_TAILS, and accepts again once one ends', async () => {
    await fetch(h('t'), { method: 'POST' });
    const tails = await Promise.all([1, 2, 3].map(() => openSse(h('t'))));
    const refused = await fetch(h('t'));
    assert.equal(refused.status, 429);
    assert.equal(((await refused.json()) as { code: string }).code, 'LOGSVC_TOO_MANY_TAILS');
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
    assert.deepEqual(lineEvents(second.events()).map((e) => e.id), ['2']);
    second.close();
  });

  it('answers a push whose body stalls with 408 LOGSVC_REQUEST_TIMEOUT', async () => {
    await fetch(h('slow'), { method: 'POST' });
    const reply = await rawExchange(server.port, 'PUT /stream?accountID=limited&key=slow HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n[{"out":', 4000);
    assert.match(reply, /^HTTP\/1\.1 408/);
    assert.match(reply, /"code":"LOGSVC_REQUEST_TIMEOUT"/);
  });

  it('answers oversized headers with 431 and a JSON error', async () => {
    const reply = await rawExchange(server.port, `GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(8000)}\r\n\r\n`);
    assert.match(reply, /^HTTP\/1\.1 431/);
    assert.match(reply, /"code":"LOGSVC_HEADERS_TOO_LARGE"/);
  });

  it('answers a request that is not HTTP with 400 and a JSON error', async () => {
    const reply = await rawExchange(server.port, 'HELLO THERE\r\n\r\n');
    assert.match(reply, /^HTTP\/1\.1 400/);
    assert.match(reply, /"code":"LOGSVC_BAD_REQUEST"/);
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
      method: 'PUT', duplex: 'half',
      body: new ReadableStream({ start(c) { for (let i = 0; i < 40; i++) c.enqueue(new Uint8Array(64 * 1024)); c.close(); } }),
    } as RequestInit);
    assert.equal(chunked.status, 413, 'a streamed body without Content-Length is cut at the limit too');
    assert.equal((await fetch(`${server.url}/blob?accountID=limited&key=big`)).status, 404);
  });
});
