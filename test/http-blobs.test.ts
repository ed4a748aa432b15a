// Blobs over HTTP on the embedded LMDB store (docs/PROTOCOL.md §2.1, §2.2, docs/BACKENDS.md).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { Readable } from 'node:stream';
import { patternStream, sha256Of } from './support/byte-streams.ts';
import { startTestServer, type TestServer } from './support/in-process-server.ts';

let server: TestServer;
let n = 0;
const key = () => `blob-${Date.now()}-${n++}/log.txt`;
const blobUrl = (k: string, path = '/blob', account = 'acct') => `${server.url}${path}?accountID=${account}&key=${encodeURIComponent(k)}`;

async function put(k: string, body: string | Buffer, type = 'text/plain') {
  return fetch(blobUrl(k), { method: 'PUT', body, headers: { 'Content-Type': type } });
}

describe('blobs over HTTP (LMDB)', function () {
  this.timeout(120000);
  before(async () => {
    server = await startTestServer();
  });
  after(async () => server.destroy());

  it('uploads with PUT or POST (204) and downloads with Content-Length, Content-Type and ETag', async () => {
    const k = key();
    assert.equal((await put(k, 'hello blob\n')).status, 204);
    const res = await fetch(blobUrl(k));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), '11');
    assert.equal(res.headers.get('content-type'), 'text/plain');
    assert.equal(res.headers.get('accept-ranges'), 'bytes');
    assert.equal(res.headers.get('etag'), `"${createHash('sha256').update('hello blob\n').digest('hex')}"`);
    assert.equal(await res.text(), 'hello blob\n');
    const k2 = key();
    assert.equal((await fetch(blobUrl(k2), { method: 'POST', body: 'via post' })).status, 204);
    assert.equal(await (await fetch(blobUrl(k2))).text(), 'via post');
  });

  it('round-trips 128 MiB streamed both ways with the same sha256', async () => {
    const k = key();
    const size = 128 * 1024 * 1024;
    const expected = await sha256Of(patternStream(size, 11));
    const up = await fetch(blobUrl(k), {
      method: 'PUT',
      body: Readable.toWeb(patternStream(size, 11)) as ReadableStream,
      duplex: 'half',
      headers: { 'Content-Type': 'application/octet-stream' },
    } as RequestInit);
    assert.equal(up.status, 204);
    const down = await fetch(blobUrl(k));
    assert.equal(down.headers.get('content-length'), String(size));
    assert.deepEqual(await sha256Of(Readable.fromWeb(down.body! as never)), expected);
  });

  it('answers HEAD with the headers and no body', async () => {
    const k = key();
    await put(k, 'x'.repeat(1000));
    const res = await fetch(blobUrl(k), { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), '1000');
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });

  it('serves ranges per RFC 9110: first-last, open-ended, suffix; 416 outside; multiple ranges get the whole blob', async () => {
    const k = key();
    const content = Buffer.from(Array.from({ length: 1000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(''));
    await put(k, content);
    const range = async (r: string) => {
      const res = await fetch(blobUrl(k), { headers: { Range: r } });
      return { status: res.status, cr: res.headers.get('content-range'), len: res.headers.get('content-length'), body: Buffer.from(await res.arrayBuffer()) };
    };
    let r = await range('bytes=10-19');
    assert.deepEqual([r.status, r.cr, r.len], [206, 'bytes 10-19/1000', '10']);
    assert.ok(r.body.equals(content.subarray(10, 20)));
    r = await range('bytes=990-');
    assert.deepEqual([r.status, r.cr], [206, 'bytes 990-999/1000']);
    assert.ok(r.body.equals(content.subarray(990)));
    r = await range('bytes=-5');
    assert.deepEqual([r.status, r.cr], [206, 'bytes 995-999/1000']);
    assert.ok(r.body.equals(content.subarray(995)));
    r = await range('bytes=-5000');
    assert.deepEqual([r.status, r.cr, r.len], [206, 'bytes 0-999/1000', '1000']);
    r = await range('bytes=900-5000');
    assert.deepEqual([r.status, r.cr], [206, 'bytes 900-999/1000']);
    r = await range('bytes=1000-');
    assert.deepEqual([r.status, r.cr], [416, 'bytes */1000']);
    assert.equal(JSON.parse(r.body.toString()).error_code, 'LOGSVC_RANGE_NOT_SATISFIABLE');
    r = await range('bytes=-0');
    assert.equal(r.status, 416);
    r = await range('bytes=0-1,5-6');
    assert.equal(r.status, 200);
    r = await range('items=0-5');
    assert.equal(r.status, 200);
  });

  it('answers 304 to If-None-Match with the current ETag', async () => {
    const k = key();
    await put(k, 'cached');
    const etag = (await fetch(blobUrl(k), { method: 'HEAD' })).headers.get('etag')!;
    const res = await fetch(blobUrl(k), { headers: { 'If-None-Match': etag } });
    assert.equal(res.status, 304);
  });

  it('tells whether a blob exists, deletes it (204, also when already gone), and then answers 404 LOGSVC_BLOB_NOT_FOUND', async () => {
    const k = key();
    assert.equal(await (await fetch(blobUrl(k, '/blob/exists'))).text(), 'false');
    await put(k, 'x');
    assert.equal(await (await fetch(blobUrl(k, '/blob/exists'))).text(), 'true');
    assert.equal((await fetch(blobUrl(k), { method: 'DELETE' })).status, 204);
    const gone = await fetch(blobUrl(k));
    assert.equal(gone.status, 404);
    assert.equal(((await gone.json()) as { error_code: string }).error_code, 'LOGSVC_BLOB_NOT_FOUND');
    assert.equal((await fetch(blobUrl(k), { method: 'DELETE' })).status, 204, 'delete is idempotent');
  });

  it('works the same on the CI path routes', async () => {
    const base = `${server.url}/ci/proj/${Date.now()}/stage/step/blob`;
    assert.equal((await fetch(base, { method: 'PUT', body: 'ci log\n' })).status, 204);
    assert.equal(await (await fetch(base)).text(), 'ci log\n');
    assert.equal((await fetch(base, { method: 'HEAD' })).headers.get('content-length'), '7');
    assert.equal((await fetch(base, { method: 'DELETE' })).status, 204);
    assert.equal((await fetch(base)).status, 404);
  });

  it('leaves no blob, and keeps the previous one, when an upload is cut off mid-body', async () => {
    const fresh = key();
    const kept = key();
    await put(kept, 'previous version');
    for (const k of [fresh, kept]) {
      await new Promise<void>((resolve) => {
        const socket = net.connect(server.port, '127.0.0.1', () => {
          socket.write(`PUT /blob?accountID=acct&key=${encodeURIComponent(k)} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10000000\r\n\r\n`);
          socket.write(Buffer.alloc(3_000_000, 1), () =>
            setTimeout(() => {
              socket.destroy();
              resolve();
            }, 100),
          );
        });
        socket.on('error', () => {});
      });
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await fetch(blobUrl(fresh))).status, 404);
    assert.equal(await (await fetch(blobUrl(kept))).text(), 'previous version');
  });

  it('rejects bad keys and accounts with 400 and a code, and keeps working', async () => {
    const cases: [string, string][] = [
      ['?accountID=acct&key=a/../b', 'LOGSVC_INVALID_KEY'],
      ['?accountID=acct&key=./a', 'LOGSVC_INVALID_KEY'],
      ['?accountID=acct&key=%2Fabs', 'LOGSVC_INVALID_KEY'],
      ['?accountID=acct&key=a%0Ab', 'LOGSVC_INVALID_KEY'],
      ['?accountID=acct&key=a//b', 'LOGSVC_INVALID_KEY'],
      ['?accountID=acct&key=', 'LOGSVC_INVALID_KEY'],
      [`?accountID=acct&key=${'k'.repeat(1025)}`, 'LOGSVC_INVALID_KEY'],
      ['?key=a', 'LOGSVC_INVALID_ACCOUNT'],
      ['?accountID=a%20b&key=a', 'LOGSVC_INVALID_ACCOUNT'],
    ];
    for (const [query, code] of cases) {
      for (const method of ['GET', 'PUT']) {
        const res = await fetch(`${server.url}/blob${query}`, { method, body: method === 'PUT' ? 'x' : undefined });
        assert.equal(res.status, 400, `${method} ${query}`);
        assert.equal(((await res.json()) as { error_code: string }).error_code, code, `${method} ${query}`);
      }
    }
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });

  it('answers unknown routes with 404 LOGSVC_NOT_FOUND as JSON', async () => {
    const res = await fetch(`${server.url}/nope`);
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), { error_msg: 'no such route: GET /nope (see docs/API.md)', error_code: 'LOGSVC_NOT_FOUND' });
  });

  it('answers 409 LOGSVC_CONFLICT to a token request on a server with no secret', async () => {
    const res = await fetch(`${server.url}/token?accountID=acct`);
    assert.equal(res.status, 409);
    const body = (await res.json()) as { error_code: string; error_msg: string };
    assert.equal(body.error_code, 'LOGSVC_CONFLICT');
    assert.match(body.error_msg, /LOG_SERVICE_SECRET/);
  });

  it('reports liveness and readiness', async () => {
    assert.deepEqual(await (await fetch(`${server.url}/healthz`)).json(), { status: 'ok' });
    const ready = await fetch(`${server.url}/ready/healthz`);
    assert.equal(ready.status, 200);
  });

  it('keeps blobs across a server restart on the same data directory', async () => {
    const dir = server.dataDir;
    const k = key();
    await put(k, 'durable\n');
    const first = server;
    await first.stop();
    const restarted = await startTestServer({}, dir);
    // after() stops the restarted server, then removes the directory (the first server's destroy).
    server = {
      ...restarted,
      destroy: async () => {
        await restarted.stop();
        await first.destroy();
      },
    };
    assert.equal(await (await fetch(blobUrl(k))).text(), 'durable\n');
  });
});

describe('blob uploads and a crash (LMDB, server process)', function () {
  this.timeout(60000);

  it('has committed a blob before answering 204: it survives a SIGKILL right after (page cache, not a power cut)', async () => {
    const { startServer } = await import('./support/server-process.ts');
    const server = await startServer();
    try {
      const body = Buffer.alloc(6 * 1024 * 1024 + 123, 'build output\n');
      const url = `${server.url}/blob?accountID=acct&key=crash/kept`;
      assert.equal((await fetch(url, { method: 'PUT', body })).status, 204);
      server.kill('SIGKILL'); // no graceful close of LMDB: only what was committed before the 204 counts
      await server.exited();
      await server.restart();
      const back = Buffer.from(await (await fetch(url)).arrayBuffer());
      assert.ok(back.equals(body), `got ${back.length} of ${body.length} bytes`);
    } finally {
      await server.stop();
    }
  });
});

describe('signed blob links (LMDB)', function () {
  this.timeout(30000);
  let secured: TestServer;
  const token = 'global-test-token';
  before(async () => {
    secured = await startTestServer({ LOG_SERVICE_GLOBAL_TOKEN: token, LOG_SERVICE_LINK_EXPIRY_SECONDS: '2' });
  });
  after(async () => secured.destroy());
  const auth = { 'X-Harness-Token': token };

  async function link(kind: 'upload' | 'download', k: string, ci = false) {
    const url = ci ? `${secured.url}/ci/p/b/s/${k}/blob/link/${kind}` : `${secured.url}/blob/link/${kind}?accountID=acct&key=${k}`;
    const res = await fetch(url, { method: 'POST', headers: auth });
    assert.equal(res.status, 200);
    return (await res.json()) as { link: string; expires: number };
  }

  it('hands out absolute upload and download links that work without a token, with expires in nanoseconds', async () => {
    const up = await link('upload', 'linked');
    assert.match(up.link, new RegExp(`^${secured.url}/links/blob\\?`));
    assert.equal(up.expires, 2e9);
    assert.equal((await fetch(up.link, { method: 'PUT', body: 'via link' })).status, 204);
    const down = await link('download', 'linked');
    const res = await fetch(down.link);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'via link');
    assert.equal((await fetch(`${secured.url}/blob?accountID=acct&key=linked`)).status, 401, 'the blob itself still needs a token');
    const ranged = await fetch(down.link, { headers: { Range: 'bytes=4-' } });
    assert.equal(await ranged.text(), 'link');
  });

  it('refuses a tampered link (another key, method or expiry) with 403 LOGSVC_LINK_INVALID', async () => {
    await fetch(`${secured.url}/blob?accountID=acct&key=secret`, { method: 'PUT', body: 'secret', headers: auth });
    const down = await link('download', 'linked');
    for (const tampered of [
      down.link.replace('key=linked', 'key=secret'),
      down.link.replace('method=GET', 'method=PUT'),
      down.link.replace(/expires=(\d+)/, (_, e: string) => `expires=${Number(e) + 1000}`),
      down.link.replace(/sig=[^&]+/, 'sig=AAAA'),
    ]) {
      const res = await fetch(tampered, { method: tampered.includes('method=PUT') ? 'PUT' : 'GET', body: tampered.includes('method=PUT') ? 'x' : undefined });
      assert.equal(res.status, 403, tampered);
      assert.equal(((await res.json()) as { error_code: string }).error_code, 'LOGSVC_LINK_INVALID');
    }
    const downAsUpload = await fetch(down.link, { method: 'PUT', body: 'overwrite' });
    assert.equal(downAsUpload.status, 403, 'a download link cannot upload');
  });

  it('refuses an expired link with 403 LOGSVC_LINK_EXPIRED', async () => {
    const down = await link('download', 'linked', false);
    await new Promise((r) => setTimeout(r, 2500));
    const res = await fetch(down.link);
    assert.equal(res.status, 403);
    assert.equal(((await res.json()) as { error_code: string }).error_code, 'LOGSVC_LINK_EXPIRED');
  });

  it('hands out links on the CI routes too', async () => {
    const up = await link('upload', 'ci-step', true);
    assert.equal((await fetch(up.link, { method: 'PUT', body: 'ci via link' })).status, 204);
    const down = await link('download', 'ci-step', true);
    assert.equal(await (await fetch(down.link)).text(), 'ci via link');
  });
});
