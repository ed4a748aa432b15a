// Edges of requests a user or an attacker reaches from the outside: keys
// whose percent-encoding is not UTF-8, and a viewer resuming a stream that is
// gone. Against the real server process, over real sockets.
import assert from 'node:assert/strict';
import { startServer, type ServerProcess } from './support/server-process.ts';
import net from 'node:net';
import { openSse } from './support/sse-reader.ts';

/** One raw request; everything the server sent until it closed (or `waitMs`). */
function rawExchange(port: number, request: string, waitMs = 5000): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('data', (c) => {
      data += c.toString();
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(data);
    });
    socket.on('error', () => undefined);
  });
}

describe('request edges', function () {
  this.timeout(60_000);
  let server: ServerProcess;
  before(async () => {
    server = await startServer();
  });
  after(() => server.stop());

  it('refuses a key whose percent-encoding is not UTF-8 with 400, so a%ff, a%fe and a%ef%bf%bd never name one blob', async () => {
    const ok = await fetch(`${server.url}/blob?accountID=acct&key=a%ef%bf%bd`, { method: 'PUT', body: 'replacement character' });
    assert.equal(ok.status, 204, 'U+FFFD itself, well encoded, is a valid key');
    for (const bad of ['a%ff', 'a%fe', 'a%c3', '%e2%82']) {
      for (const method of ['GET', 'PUT'] as const) {
        const res = await fetch(`${server.url}/blob?accountID=acct&key=${bad}`, { method, body: method === 'PUT' ? 'x' : undefined });
        assert.equal(res.status, 400, `${method} key=${bad}`);
        const body = (await res.json()) as Record<string, string>;
        assert.equal(body.error_code, 'LOGSVC_INVALID_KEY');
        assert.match(body.error_msg!, /"key" is not valid percent-encoded UTF-8/);
      }
    }
    const tail = await fetch(`${server.url}/stream?accountID=acct&key=s%ff`);
    assert.equal(tail.status, 400);
    const other = await fetch(`${server.url}/stream/raw?accountID=acct&key=s&offset=%ff`);
    assert.equal(other.status, 400, 'any parameter');
    assert.equal(((await other.json()) as Record<string, string>).error_msg, 'query parameter "offset" is not valid percent-encoded UTF-8');
    assert.equal(await (await fetch(`${server.url}/blob?accountID=acct&key=a%ef%bf%bd`)).text(), 'replacement character', 'the good key is untouched');
  });

  it('tells a Harness viewer resuming a stream that is gone (server restarted, nothing kept) with event: restart, not a plain end', async () => {
    const sse = await openSse(`${server.url}/stream?accountID=acct&key=gone/stream`, { 'Last-Event-ID': '41' });
    try {
      await sse.ended(10_000);
      const events = sse.events().filter((e) => e.event !== undefined);
      assert.deepEqual(
        events.map((e) => [e.event, e.data]),
        [
          ['restart', '{"from":0}'],
          ['error', 'eof'],
        ],
      );
    } finally {
      sse.close();
    }
    const fresh = await openSse(`${server.url}/stream?accountID=acct&key=gone/stream`);
    try {
      await fresh.ended(10_000);
      assert.deepEqual(
        fresh
          .events()
          .filter((e) => e.event !== undefined)
          .map((e) => e.event),
        ['error'],
        'a viewer starting afresh gets the plain end',
      );
    } finally {
      fresh.close();
    }
  });

  it('stores a push retried with the same X-Push-Id once, and refuses a malformed id with 400', async () => {
    const q = `${server.url}/ci/retry/1/s/t/stream`;
    assert.equal((await fetch(q, { method: 'POST' })).status, 204);
    for (let attempt = 0; attempt < 3; attempt++) {
      const res = await fetch(q, { method: 'PUT', headers: { 'Content-Type': 'text/plain', 'X-Push-Id': 'runner-7:batch-1' }, body: 'one\ntwo\n' });
      assert.equal(res.status, 204);
    }
    assert.equal((await fetch(q, { method: 'PUT', headers: { 'Content-Type': 'text/plain', 'X-Push-Id': 'runner-7:batch-2' }, body: 'three\n' })).status, 204);
    const bad = await fetch(q, { method: 'PUT', headers: { 'Content-Type': 'text/plain', 'X-Push-Id': 'not valid!' }, body: 'x\n' });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as Record<string, string>).error_msg, 'X-Push-Id must be 1-128 characters of A-Z a-z 0-9 . _ : -');
    assert.equal((await fetch(q, { method: 'DELETE' })).status, 204);
    const raw = await fetch(`${server.url}/ci/retry/1/s/t/raw`);
    assert.equal(await raw.text(), 'one\ntwo\nthree\n');
  });

  it('answers an HTTP/1.1 request without Host with 400 and the JSON error body (RFC 9112 §3.2)', async () => {
    const reply = await rawExchange(server.port, 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n');
    assert.match(reply, /^HTTP\/1\.1 400 /);
    assert.match(reply, /content-type: application\/json/i);
    assert.ok(reply.includes('"error_code":"LOGSVC_BAD_REQUEST"'), reply);
    assert.ok(reply.includes('need a Host header'), reply);
    const old = await rawExchange(server.port, 'GET /healthz HTTP/1.0\r\n\r\n');
    assert.match(old, /^HTTP\/1\.1 200 /, 'HTTP/1.0 has no Host to require');
  });

  it("answers 503 with Retry-After and without the Redis client's own words while Redis cannot be reached", async () => {
    const dead = await startServer({ LOG_SERVICE_REDIS_URL: 'redis://127.0.0.1:1' });
    try {
      const res = await fetch(`${dead.url}/stream?accountID=acct&key=k`, { method: 'POST' });
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '2');
      const body = (await res.json()) as Record<string, string>;
      assert.equal(body.error_code, 'LOGSVC_BACKEND_UNAVAILABLE');
      assert.equal(body.error_msg, 'redis unavailable: the stream backend cannot be reached; retry shortly');
      assert.doesNotMatch(JSON.stringify(body), /ECONNREFUSED|127\.0\.0\.1|offline queue|enableOfflineQueue/i);
    } finally {
      await dead.stop();
    }
  });
});
