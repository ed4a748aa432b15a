// The typed client's request behaviour — retries, backoff, timeouts, aborts,
// error mapping, headers, TLS — against small real node:http(s) servers that
// answer what each test scripts (not a mock of the client).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFileSync, mkdtempSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { LogServiceClient, LogServiceError } from '../client/index.ts';
import { freePort } from './support/server-process.ts';
import { makeTestCerts, type TestCerts } from './support/tls-certs.ts';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}
type Reply = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;

/** A server that records every request (with its body) and answers with `reply`. */
async function scripted(reply: Reply, port = 0): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      reply(req, res, seen.length);
    });
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const unavailable = (res: http.ServerResponse) => json(res, 503, { error_msg: 'the server is shutting down', error_code: 'LOGSVC_SHUTTING_DOWN' });
const step = { project: 'web', build: '42', stage: 'test', step: 'unit' };

async function rejection(promise: Promise<unknown>): Promise<LogServiceError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof LogServiceError, `expected a LogServiceError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to fail');
}

describe('client requests: retries, timeouts, aborts, errors', function () {
  this.timeout(20_000);
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

  it('retries an idempotent call after two 503 replies and succeeds on the third', async () => {
    const s = await serve((_req, res, n) => (n <= 2 ? unavailable(res) : res.writeHead(204).end()));
    await client(s.url).stream(step).open();
    assert.equal(s.seen.length, 3);
    assert.deepEqual(
      s.seen.map((r) => `${r.method} ${r.url}`),
      Array(3).fill('POST /ci/web/42/test/unit/stream'),
    );
  });

  it("gives up after `retries` extra attempts and reports the server's code, status and message", async () => {
    const s = await serve((_req, res) => unavailable(res));
    const err = await rejection(client(s.url, { retries: 2 }).stream(step).open());
    assert.equal(s.seen.length, 3);
    assert.equal(err.code, 'LOGSVC_SHUTTING_DOWN');
    assert.equal(err.status, 503);
    assert.equal(err.message, 'the server is shutting down');
  });

  it('never retries a 4xx reply', async () => {
    const s = await serve((_req, res) => json(res, 404, { error_msg: 'no blob "web/42/test/unit"', error_code: 'LOGSVC_BLOB_NOT_FOUND' }));
    const err = await rejection(client(s.url).blob(step).delete());
    assert.equal(s.seen.length, 1);
    assert.equal(err.code, 'LOGSVC_BLOB_NOT_FOUND');
    assert.equal(err.status, 404);
  });

  it('repeats a push after a 503 with the same X-Push-Id, so the server stores it once whatever happened to the first', async () => {
    const s = await serve((_req, res, n) => (n === 1 ? unavailable(res) : res.writeHead(204).end()));
    assert.deepEqual(await client(s.url).stream(step).push('one line\n'), { lines: 1, requests: 1 });
    assert.equal(s.seen.length, 2);
    const ids = s.seen.map((r) => r.headers['x-push-id']);
    assert.match(String(ids[0]), /^[A-Za-z0-9._:-]{1,128}$/);
    assert.equal(ids[1], ids[0]);
    assert.equal(s.seen[1]?.body.toString(), '{"out":"one line\\n"}\n');
  });

  it('gives each batch of a push its own X-Push-Id, and each push its own prefix', async () => {
    const s = await serve((_req, res) => res.writeHead(204).end());
    const lines = Array.from({ length: 2500 }, (_, i) => `line ${i}`);
    await client(s.url).stream(step).push(lines);
    await client(s.url).stream(step).push('another push\n');
    const ids = s.seen.map((r) => String(r.headers['x-push-id']));
    assert.equal(ids.length, 4);
    assert.equal(new Set(ids).size, 4);
    const prefix = (id: string) => id.slice(0, id.lastIndexOf('.'));
    assert.equal(prefix(ids[0]!), prefix(ids[2]!));
    assert.notEqual(prefix(ids[0]!), prefix(ids[3]!));
  });

  it('retries an idempotent call whose connection broke before the reply', async () => {
    const s = await serve((req, res, n) => (n === 1 ? req.socket.destroy() : res.writeHead(204).end()));
    await client(s.url).stream(step).close({ snapshot: true });
    assert.equal(s.seen.length, 2);
    assert.equal(s.seen[1]?.url, '/ci/web/42/test/unit/stream?snapshot=true');
  });

  it('retries a push while the connection is refused, since nothing reached the server', async () => {
    const port = await freePort();
    const pushing = client(`http://127.0.0.1:${port}`, { retries: 8, retryDelayMs: 100 }).stream(step).push('hello\n');
    await new Promise((r) => setTimeout(r, 150));
    const s = await serve((_req, res) => res.writeHead(204).end(), port);
    assert.deepEqual(await pushing, { lines: 1, requests: 1 });
    assert.equal(s.seen.length, 1);
    assert.equal(s.seen[0]?.body.toString(), '{"out":"hello\\n"}\n');
  });

  it('reports an unreachable server as LOGSVC_NETWORK once its retries are spent', async () => {
    const port = await freePort();
    const started = Date.now();
    const err = await rejection(client(`http://127.0.0.1:${port}`, { retries: 2 }).blob(step).exists());
    assert.equal(err.code, 'LOGSVC_NETWORK');
    assert.equal(err.status, undefined);
    assert.equal(err.notSent, true);
    assert.match(err.message, /connection refused/);
    assert.ok(Date.now() - started < 5000);
  });

  it('times out a server that never answers with LOGSVC_TIMEOUT, without retrying', async () => {
    const s = await serve(() => undefined); // never replies
    const started = Date.now();
    const err = await rejection(client(s.url, { timeoutMs: 300 }).stream(step).info());
    const elapsed = Date.now() - started;
    assert.equal(err.code, 'LOGSVC_TIMEOUT');
    assert.ok(elapsed >= 290 && elapsed < 3000, `took ${elapsed} ms`);
    assert.equal(s.seen.length, 1);
  });

  it("lets one call override the client's timeout", async () => {
    const s = await serve(() => undefined);
    const started = Date.now();
    const err = await rejection(client(s.url, { timeoutMs: 60_000 }).blob(step).exists({ timeoutMs: 200 }));
    assert.equal(err.code, 'LOGSVC_TIMEOUT');
    assert.ok(Date.now() - started < 3000);
  });

  it("aborts an in-flight call when the caller's AbortSignal fires (LOGSVC_ABORTED)", async () => {
    const s = await serve(() => undefined);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    const err = await rejection(client(s.url).blob(step).uploadLink({ signal: controller.signal }));
    assert.equal(err.code, 'LOGSVC_ABORTED');
    assert.ok(Date.now() - started < 2000);
    assert.equal(s.seen.length, 1);
  });

  it('sends nothing when the signal has already fired', async () => {
    const s = await serve((_req, res) => res.writeHead(204).end());
    const err = await rejection(client(s.url).stream(step).open({ signal: AbortSignal.abort() }));
    assert.equal(err.code, 'LOGSVC_ABORTED');
    assert.equal(s.seen.length, 0);
  });

  it('stops waiting for the next retry as soon as it is aborted', async () => {
    const s = await serve((_req, res) => {
      res.setHeader('retry-after', '5');
      unavailable(res);
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const started = Date.now();
    const err = await rejection(client(s.url).stream(step).open({ signal: controller.signal }));
    assert.equal(err.code, 'LOGSVC_ABORTED');
    assert.ok(Date.now() - started < 2000);
    assert.equal(s.seen.length, 1);
  });

  it('re-sends a Buffer upload on retry with the same bytes and Content-Length', async () => {
    const s = await serve((_req, res, n) => (n === 1 ? unavailable(res) : res.writeHead(204).end()));
    const bytes = Buffer.alloc(300_000, 7);
    await client(s.url).blob(step).upload(bytes, { contentType: 'text/plain' });
    assert.equal(s.seen.length, 2);
    for (const request of s.seen) {
      assert.equal(request.method, 'PUT');
      assert.equal(request.headers['content-length'], '300000');
      assert.equal(request.headers['content-type'], 'text/plain');
      assert.ok(request.body.equals(bytes));
    }
  });

  it('re-reads a file upload from disk on retry', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'client-upload-'));
    const file = join(dir, 'build.log');
    writeFileSync(file, 'line 1\nline 2\n');
    const s = await serve((_req, res, n) => (n === 1 ? res.writeHead(502).end('<html>bad gateway</html>') : res.writeHead(204).end()));
    await client(s.url).blob(step).upload(file);
    assert.deepEqual(
      s.seen.map((r) => r.body.toString()),
      ['line 1\nline 2\n', 'line 1\nline 2\n'],
    );
    assert.equal(s.seen[1]?.headers['content-length'], '14');
  });

  it('sends an upload from a one-shot Readable once, even when a retry would otherwise be allowed', async () => {
    const s = await serve((_req, res) => unavailable(res));
    const err = await rejection(
      client(s.url)
        .blob(step)
        .upload(Readable.from([Buffer.from('only once')])),
    );
    assert.equal(err.status, 503);
    assert.equal(s.seen.length, 1);
    assert.equal(s.seen[0]?.body.toString(), 'only once');
    assert.equal(s.seen[0]?.headers['transfer-encoding'], 'chunked');
  });

  it('sends the token as X-Harness-Token and percent-encodes path segments and query values', async () => {
    const s = await serve((_req, res) => res.writeHead(204).end());
    const c = client(s.url, { token: 't0k/en' });
    await c.stream({ project: 'a b', build: '4/2', stage: 'x?y', step: 'ü' }).open(60);
    await c.stream({ accountID: 'acct 1', key: 'a/b c&d=e' }).open();
    assert.deepEqual(
      s.seen.map((r) => r.url),
      ['/ci/a%20b/4%2F2/x%3Fy/%C3%BC/stream?timeout_seconds=60', '/stream?accountID=acct+1&key=a%2Fb+c%26d%3De'],
    );
    assert.ok(s.seen.every((r) => r.headers['x-harness-token'] === 't0k/en'));
  });

  it('keeps a path prefix of the server URL', async () => {
    const s = await serve((_req, res) => json(res, 200, { streams: {} }));
    assert.deepEqual(await client(`${s.url}/logs/`).listStreams(), []);
    assert.equal(s.seen[0]?.url, '/logs/ci/streams');
  });

  it('refuses to follow a redirect, so the token never travels to another address', async () => {
    const s = await serve((_req, res) => res.writeHead(302, { location: 'http://example.invalid/steal' }).end());
    const err = await rejection(client(s.url, { token: 'secret' }).blob(step).delete());
    assert.equal(err.code, 'LOGSVC_BAD_RESPONSE');
    assert.match(err.message, /redirects to http:\/\/example\.invalid\/steal/);
    assert.equal(s.seen.length, 1);
  });

  it('does not follow a redirect with an upload either (the body is a one-way stream)', async () => {
    const s = await serve((_req, res) => res.writeHead(307, { location: '/elsewhere' }).end());
    const err = await rejection(client(s.url, { token: 'secret' }).blob(step).upload(Buffer.from('log')));
    assert.equal(err.code, 'LOGSVC_BAD_RESPONSE');
    assert.match(err.message, /redirect/);
    assert.equal(s.seen.length, 1);
  });

  it("reads the code from `error_code`, from an older server's string `code` when there is no `error_code`, and never from a number", async () => {
    const bodies: [unknown, string][] = [
      [{ error_msg: 'no blob', error_code: 'LOGSVC_BLOB_NOT_FOUND' }, 'LOGSVC_BLOB_NOT_FOUND'],
      // a server of 0.1.0 sent {"error_msg", "code": "LOGSVC_…"}
      [{ error_msg: 'no blob', code: 'LOGSVC_BLOB_NOT_FOUND' }, 'LOGSVC_BLOB_NOT_FOUND'],
      [{ error_msg: 'no blob', error_code: 'LOGSVC_BLOB_NOT_FOUND', code: 404 }, 'LOGSVC_BLOB_NOT_FOUND'],
      // Harness's own server: a message, maybe a numeric code, no catalogue code
      [{ error_msg: 'no blob', code: 404 }, 'LOGSVC_BAD_RESPONSE'],
      [{ error_msg: 'no blob' }, 'LOGSVC_BAD_RESPONSE'],
    ];
    for (const [body, code] of bodies) {
      const s = await serve((_req, res) => json(res, 404, body));
      const err = await rejection(client(s.url).blob(step).delete());
      assert.deepEqual([err.code, err.status, err.message], [code, 404, 'no blob'], JSON.stringify(body));
    }
  });

  it("maps an error page that is not the catalogue's JSON to a code by status", async () => {
    const s = await serve((_req, res) => res.writeHead(401, { 'content-type': 'text/html' }).end('<h1>Unauthorized</h1>'));
    const err = await rejection(client(s.url).stream(step).close());
    assert.equal(err.code, 'LOGSVC_UNAUTHORIZED');
    assert.equal(err.status, 401);
    assert.match(err.message, /HTTP 401: <h1>Unauthorized<\/h1>/);
  });

  it('does not send the token to upload and download links', async () => {
    const s = await serve((req, res) => (req.method === 'PUT' ? res.writeHead(204).end() : res.writeHead(200, { 'content-length': '2' }).end('ok')));
    const c = client(s.url, { token: 'secret' });
    await c.uploadUsingLink({ link: `${s.url}/links/blob?sig=1`, expires: 1e9 }, Buffer.from('ok'));
    const body = await c.downloadUsingLink(`${s.url}/links/blob?sig=2`);
    let text = '';
    for await (const chunk of body) text += String(chunk);
    assert.equal(text, 'ok');
    assert.deepEqual(
      s.seen.map((r) => r.headers['x-harness-token']),
      [undefined, undefined],
    );
  });
});

describe('client TLS options', function () {
  this.timeout(30_000);
  let certs: TestCerts;
  let server: https.Server;
  let url: string;
  const clientsSeen: string[] = [];

  before(async function () {
    try {
      certs = makeTestCerts();
    } catch {
      this.skip(); // no openssl
    }
    server = https.createServer(
      {
        key: certs.read(certs.serverKey),
        cert: certs.read(certs.serverCert),
        ca: certs.read(certs.caFile),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate();
        clientsSeen.push(String(peer.subject?.CN ?? ''));
        res.writeHead(204).end();
      },
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
  });

  it('trusts the server through `ca` and presents `cert`/`key` for mutual TLS (paths or bytes)', async () => {
    const byPath = new LogServiceClient({ server: url, ca: certs.caFile, cert: certs.clientCert, key: certs.clientKey });
    await byPath.stream(step).open();
    const byBytes = new LogServiceClient({
      server: url,
      ca: certs.read(certs.caFile),
      cert: certs.read(certs.clientCert),
      key: certs.read(certs.clientKey),
    });
    await byBytes.stream(step).open();
    assert.deepEqual(clientsSeen, ['client', 'client']);
    await byPath.close();
    await byBytes.close();
  });

  it("fails with LOGSVC_NETWORK, without retrying, when the server's certificate is not trusted", async () => {
    const started = Date.now();
    const err = await rejection(new LogServiceClient({ server: url, retries: 5, retryDelayMs: 500 }).stream(step).open());
    assert.equal(err.code, 'LOGSVC_NETWORK');
    assert.ok(Date.now() - started < 2000, 'a certificate error is not retried');
  });
});
