// The client's blob calls: streamed uploads with progress, ranged and resumed
// downloads, exists, links — against small real node:http servers that play
// the service's side of docs/PROTOCOL.md §9 as each test scripts it.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogServiceClient, LogServiceError, type TransferProgress } from '../client/index.ts';
import { collect } from './support/byte-streams.ts';

async function listen(handler: http.RequestListener): Promise<{ url: string; requests: http.IncomingMessage[]; close(): Promise<void> }> {
  const requests: http.IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req);
    handler(req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

const step = { project: 'web', build: '42', stage: 'test', step: 'unit' };
const blobBytes = Buffer.from(Array.from({ length: 1_000_000 }, (_, i) => i % 251));
const etag = `"${createHash('sha256').update(blobBytes).digest('hex')}"`;

/** Serves `blobBytes` with ETag and Range support; `cutAt` cuts the first full download after that many bytes. */
function blobServer(options: { cutAt?: number; etagAfterCut?: string } = {}): http.RequestListener {
  let downloads = 0;
  return (req, res) => {
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    downloads++;
    const tag = downloads > 1 && options.etagAfterCut !== undefined ? options.etagAfterCut : etag;
    if (range !== null) {
      const start = Number(range[1]);
      res.writeHead(206, {
        etag: tag,
        'content-length': blobBytes.length - start,
        'content-range': `bytes ${start}-${blobBytes.length - 1}/${blobBytes.length}`,
      });
      res.end(blobBytes.subarray(start));
      return;
    }
    res.writeHead(200, { etag: tag, 'content-length': blobBytes.length, 'content-type': 'application/octet-stream' });
    if (options.cutAt !== undefined && downloads === 1) {
      res.write(blobBytes.subarray(0, options.cutAt), () => setTimeout(() => req.socket.destroy(), 20));
    } else {
      res.end(blobBytes);
    }
  };
}

describe('client blobs', function () {
  this.timeout(20_000);
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });
  async function serve(handler: http.RequestListener) {
    const s = await listen(handler);
    closers.push(s.close);
    return s;
  }
  const client = (url: string) => new LogServiceClient({ server: url, retryDelayMs: 20 });

  it('streams a file upload with its Content-Length and reports progress up to the file size', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'client-blob-'));
    const file = join(dir, 'build.log');
    writeFileSync(file, blobBytes);
    let received: Buffer = Buffer.alloc(0);
    const s = await serve((req, res) => {
      void collect(req).then((body) => {
        received = body;
        res.writeHead(204).end();
      });
    });
    const progress: TransferProgress[] = [];
    await client(s.url)
      .blob(step)
      .upload(file, { contentType: 'text/plain', onProgress: (p) => progress.push(p) });
    assert.ok(received.equals(blobBytes));
    assert.equal(s.requests[0]?.headers['content-length'], String(blobBytes.length));
    assert.equal(s.requests[0]?.url, '/ci/web/42/test/unit/blob');
    assert.ok(progress.length > 1, 'several progress reports');
    assert.deepEqual(progress.at(-1), { transferred: blobBytes.length, total: blobBytes.length });
  });

  it('downloads as a Readable, with progress, and asks for a byte range when given one', async () => {
    const s = await serve((req, res) => {
      if (req.headers.range === 'bytes=10-19') {
        res.writeHead(206, { 'content-length': 10, 'content-range': `bytes 10-19/${blobBytes.length}` }).end(blobBytes.subarray(10, 20));
      } else {
        blobServer()(req, res);
      }
    });
    const progress: TransferProgress[] = [];
    const whole = await collect(
      await client(s.url)
        .blob(step)
        .download({ onProgress: (p) => progress.push(p) }),
    );
    assert.ok(whole.equals(blobBytes));
    assert.deepEqual(progress.at(-1), { transferred: blobBytes.length, total: blobBytes.length });
    const part = await collect(
      await client(s.url)
        .blob(step)
        .download({ range: { start: 10, end: 19 } }),
    );
    assert.ok(part.equals(blobBytes.subarray(10, 20)));
  });

  it('resumes a download cut mid-body with Range from the first missing byte', async () => {
    const s = await serve(blobServer({ cutAt: 300_000 }));
    const body = await collect(await client(s.url).blob(step).download());
    assert.ok(body.equals(blobBytes), 'the bytes are whole and in order');
    assert.equal(s.requests.length, 2);
    const resumedFrom = Number(/^bytes=(\d+)-$/.exec(s.requests[1]?.headers.range ?? '')?.[1]);
    assert.ok(resumedFrom >= 300_000 && resumedFrom <= blobBytes.length, `resumed at ${resumedFrom}`);
  });

  it('fails instead of splicing two versions when the blob changed before the resume', async () => {
    const s = await serve(blobServer({ cutAt: 300_000, etagAfterCut: '"another"' }));
    await assert.rejects(collect(await client(s.url).blob(step).download()), (err: LogServiceError) => {
      assert.equal(err.code, 'LOGSVC_NETWORK');
      assert.match(err.message, /could not resume/);
      return true;
    });
  });

  it('fails a download with LOGSVC_TIMEOUT when the body stops arriving', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': 100 });
      res.write('only part');
    });
    const download = await new LogServiceClient({ server: s.url, timeoutMs: 300 }).blob(step).download();
    await assert.rejects(collect(download), (err: LogServiceError) => err.code === 'LOGSVC_TIMEOUT');
  });

  it('answers exists with HEAD on CI routes and with /blob/exists on Harness routes', async () => {
    const s = await serve((req, res) => {
      if (req.method === 'HEAD') res.writeHead(req.url?.includes('/unit/') ? 200 : 404, { 'content-length': 5 }).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end('false');
    });
    const c = client(s.url);
    assert.equal(await c.blob(step).exists(), true);
    assert.equal(await c.blob({ ...step, step: 'other' }).exists(), false);
    assert.equal(await c.blob({ accountID: 'acct', key: 'k' }).exists(), false);
    assert.deepEqual(
      s.requests.map((r) => `${r.method} ${r.url}`),
      ['HEAD /ci/web/42/test/unit/blob', 'HEAD /ci/web/42/test/other/blob', 'GET /blob/exists?accountID=acct&key=k'],
    );
  });

  it('reads links as {link, expires} and resolves a relative link against the server', async () => {
    const s = await serve((req, res) => {
      const link = req.url?.endsWith('/upload') ? '/links/blob?sig=up' : 'http://elsewhere.example/blob?sig=down';
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ link, expires: 3600e9 }));
    });
    const blob = client(s.url).blob(step);
    assert.deepEqual(await blob.uploadLink(), { link: `${s.url}/links/blob?sig=up`, expires: 3600e9 });
    assert.deepEqual(await blob.downloadLink(), { link: 'http://elsewhere.example/blob?sig=down', expires: 3600e9 });
    assert.deepEqual(
      s.requests.map((r) => `${r.method} ${r.url}`),
      ['POST /ci/web/42/test/unit/blob/link/upload', 'POST /ci/web/42/test/unit/blob/link/download'],
    );
  });
});
