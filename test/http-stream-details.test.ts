// Stream semantics a user relies on, checked on the wire (docs/PROTOCOL.md §9, §6): one
// socket write per push, a slow viewer told what it lost, idle expiry ending a
// tail, snapshots of several streams at once, bad keys on stream routes,
// links from LOG_SERVICE_PUBLIC_URL, and the server reading ./.env.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from './support/in-process-server.ts';
import { BIN, cleanEnv, freePort } from './support/server-process.ts';
import { lineEvents, openSse, parseEvents } from './support/sse-reader.ts';

const text = { 'Content-Type': 'text/plain' };

/** The HTTP/1.1 chunks of a response as the server wrote them (RFC 9112 §7.1), read off a raw socket. */
function chunksOf(url: string, until: (chunks: string[]) => boolean, timeoutMs = 10_000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      let raw = Buffer.alloc(0);
      const chunks: string[] = [];
      const timer = setTimeout(() => {
        req.destroy();
        reject(new Error(`timed out; chunks so far: ${JSON.stringify(chunks)}`));
      }, timeoutMs);
      // Node's client decodes chunked bodies; the raw socket keeps the framing.
      res.socket.on('data', (data: Buffer) => {
        raw = Buffer.concat([raw, data]);
        for (;;) {
          const nl = raw.indexOf('\r\n');
          if (nl === -1) break;
          const size = parseInt(raw.subarray(0, nl).toString('latin1'), 16);
          if (Number.isNaN(size) || raw.length < nl + 2 + size + 2) break;
          chunks.push(raw.subarray(nl + 2, nl + 2 + size).toString('utf8'));
          raw = raw.subarray(nl + 2 + size + 2);
        }
        if (until(chunks)) {
          clearTimeout(timer);
          req.destroy();
          resolve(chunks);
        }
      });
      res.on('error', () => {});
    });
    req.on('error', () => {});
  });
}

describe('stream details on the wire', function () {
  this.timeout(60_000);
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ LOG_SERVICE_STREAM_MAX_LINES: '500', LOG_SERVICE_PUBLIC_URL: 'https://logs.example.com/base/' });
  });
  after(async () => server?.destroy());

  it('sends the lines of one push in one socket write (one HTTP chunk)', async () => {
    const url = `${server.url}/ci/wire/1/s/one-write/stream`;
    assert.equal((await fetch(url, { method: 'POST' })).status, 204);
    const seen = chunksOf(url, (chunks) => chunks.some((c) => c.includes('id: 2\n')));
    await new Promise((r) => setTimeout(r, 200)); // the viewer is waiting for lines
    assert.equal((await fetch(url, { method: 'PUT', headers: text, body: 'a\nb\nc\n' })).status, 204);
    const chunks = await seen;
    const withLines = chunks.filter((c) => c.includes('id: '));
    assert.equal(withLines.length, 1, `one write for the push: ${JSON.stringify(chunks)}`);
    assert.deepEqual(
      lineEvents(parseEvents(withLines[0]!)).map((e) => e.id),
      ['0', '1', '2'],
    );
    await fetch(url, { method: 'DELETE' });
  });

  it('tells a viewer that stopped reading which lines it lost, then continues with consecutive ids', async () => {
    const url = `${server.url}/ci/wire/1/s/slow/stream`;
    assert.equal((await fetch(url, { method: 'POST' })).status, 204);
    let raw = '';
    let paused: http.IncomingMessage | undefined;
    const ended = new Promise<void>((resolve) => {
      http.get(url, (res) => {
        paused = res;
        res.pause();
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          raw += c;
        });
        res.on('end', () => resolve());
      });
    });
    await new Promise((r) => setTimeout(r, 200));
    const big = 'z'.repeat(2000);
    for (let i = 0; i < 20; i++) {
      const body = JSON.stringify(Array.from({ length: 500 }, (_, j) => ({ out: `${i * 500 + j} ${big}\n` })));
      assert.equal((await fetch(url, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body })).status, 204);
    }
    assert.equal((await fetch(url, { method: 'DELETE' })).status, 204);
    paused!.resume();
    await ended;
    const events = parseEvents(raw);
    const dropped = events.filter((e) => e.event === 'dropped').map((e) => JSON.parse(e.data!) as { from: number; to: number });
    // The ring (500 lines) trims what the viewer did not read; the live archive gives most or all of it back
    // (docs/ARCHIVE.md), and what it could not keep up with (10 MB pushed at full speed) is reported dropped.
    // Either way: every seq 0..9999 is either delivered or inside a dropped range, exactly once.
    const covered = new Array<number>(10_000).fill(0);
    for (const e of lineEvents(events)) covered[Number(e.id)]!++;
    for (const d of dropped) for (let s = d.from; s <= d.to; s++) covered[s]!++;
    assert.ok(
      covered.every((n) => n === 1),
      'no line skipped silently, none twice',
    );
    assert.equal(lineEvents(events).at(-1)?.id, '9999');
    assert.ok(raw.endsWith('event: eof\ndata: eof\n\n'));
  });

  it('ends an open tail with the terminal event when its stream expires idle (timeout_seconds)', async () => {
    const url = `${server.url}/ci/wire/1/s/idle/stream`;
    assert.equal((await fetch(`${url}?timeout_seconds=1`, { method: 'POST' })).status, 204);
    await fetch(url, { method: 'PUT', headers: text, body: 'only line\n' });
    const tail = await openSse(url);
    const started = Date.now();
    await tail.ended(10_000);
    assert.ok(Date.now() - started < 5000, 'ended by the expiry, not by a timeout of the test');
    assert.deepEqual(
      lineEvents(tail.events()).map((e) => e.id),
      ['0'],
    );
    assert.ok(tail.raw().endsWith('event: eof\ndata: eof\n\n'));
    assert.equal((await fetch(url, { method: 'PUT', headers: text, body: 'late\n' })).status, 404, 'the expired stream is gone');
  });

  it('snapshots every stream closed by prefix=true or keyList into its own blob', async () => {
    const h = (key: string) => `${server.url}/stream?accountID=snap&key=${encodeURIComponent(key)}`;
    for (const key of ['p/1/a', 'p/1/b', 'p/2/c', 'p/2/d']) {
      assert.equal((await fetch(h(key), { method: 'POST' })).status, 204);
      await fetch(h(key), { method: 'PUT', headers: text, body: `${key}\n` });
    }
    assert.equal((await fetch(`${server.url}/stream?accountID=snap&key=p/1/&prefix=true&snapshot=true`, { method: 'DELETE' })).status, 204);
    assert.equal((await fetch(`${server.url}/stream?accountID=snap&keyList=p/2/c,p/2/d&snapshot=true`, { method: 'DELETE' })).status, 204);
    for (const key of ['p/1/a', 'p/1/b', 'p/2/c', 'p/2/d']) {
      const blob = await fetch(`${server.url}/blob?accountID=snap&key=${encodeURIComponent(key)}`);
      assert.equal(blob.status, 200, key);
      assert.equal((JSON.parse((await blob.text()).trim()) as { out: string }).out, `${key}\n`);
    }
  });

  it('answers a bad key or CI id on every stream route with 400 and a code, and keeps working', async () => {
    for (const key of ['../x', '/lead', 'a//b', 'a/./b', 'ctl\u0001x', '']) {
      for (const method of ['POST', 'PUT', 'GET', 'DELETE']) {
        const res = await fetch(`${server.url}/stream?accountID=a&key=${encodeURIComponent(key)}`, {
          method,
          headers: text,
          body: method === 'PUT' ? 'x\n' : undefined,
        });
        assert.equal(res.status, 400, `${method} key ${JSON.stringify(key)}`);
        assert.equal(((await res.json()) as { error_code: string }).error_code, 'LOGSVC_INVALID_KEY');
      }
    }
    for (const method of ['POST', 'PUT', 'GET', 'DELETE']) {
      const res = await fetch(`${server.url}/ci/p/..%2Fx/s/t/stream`, { method, headers: text, body: method === 'PUT' ? 'x\n' : undefined });
      assert.equal(res.status, 400, method);
      assert.equal(((await res.json()) as { error_code: string }).error_code, 'LOGSVC_INVALID_ID');
    }
    assert.equal((await fetch(`${server.url}/ci/p/1/s/fine/stream`, { method: 'POST' })).status, 204);
  });

  it('builds links from LOG_SERVICE_PUBLIC_URL, whatever Host the request carried', async () => {
    const res = await fetch(`${server.url}/ci/p/1/s/t/blob/link/download`, { method: 'POST' });
    const { link } = (await res.json()) as { link: string };
    assert.match(link, /^https:\/\/logs\.example\.com\/base\/links\/blob\?/);
  });
});

describe('the server reads ./.env', function () {
  this.timeout(30_000);

  it('takes settings from .env in its working directory, and the environment wins over the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'logsvc-dotenv-'));
    const port = await freePort();
    await writeFile(
      join(dir, '.env'),
      `LOG_SERVICE_HTTP_BIND=127.0.0.1:${port}\nLOG_SERVICE_STREAM_MAX_LINES=3\nLOG_SERVICE_MAX_PUSH_LINES=3\nLOG_SERVICE_LINK_EXPIRY_SECONDS=77\n`,
    );
    const child = spawn(process.execPath, [BIN, 'server'], {
      cwd: dir,
      env: { ...cleanEnv(), LOG_SERVICE_LINK_EXPIRY_SECONDS: '99', LOG_SERVICE_LMDB_PATH: join(dir, 'db') },
      stdio: 'ignore',
    });
    try {
      const url = `http://127.0.0.1:${port}`;
      for (let i = 0; i < 100; i++) {
        if (
          await fetch(`${url}/healthz`).then(
            (r) => r.ok,
            () => false,
          )
        )
          break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await fetch(`${url}/ci/p/1/s/t/stream`, { method: 'POST' });
      await fetch(`${url}/ci/p/1/s/t/stream`, { method: 'PUT', headers: text, body: '1\n2\n3\n4\n5\n' });
      const info = (await (await fetch(`${url}/ci/streams`)).json()) as { streams: Record<string, { size: number }> };
      assert.equal(info.streams['p/1/s/t']?.size, 5);
      const tail = await openSse(`${url}/ci/p/1/s/t/stream`);
      await tail.until((events) => lineEvents(events).length >= 3);
      assert.deepEqual(
        lineEvents(tail.events()).map((e) => e.id),
        ['2', '3', '4'],
        'LOG_SERVICE_STREAM_MAX_LINES=3 from .env',
      );
      tail.close();
      const link = (await (await fetch(`${url}/ci/p/1/s/t/blob/link/download`, { method: 'POST' })).json()) as { expires: number };
      assert.equal(link.expires, 99e9, 'the environment wins over .env');
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await rm(dir, { recursive: true, force: true });
    }
  });
});
