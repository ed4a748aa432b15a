// `log-service livelog` (docs/LIVELOG.md): taskcluster livelog's interface on
// the real executable over real sockets — one long PUT in, any number of
// readers out by byte, livelog's statuses and text bodies, its range answers
// in legacy mode, HTTPS, its exit codes, and what it does better: readers
// before the producer wait for it, slow readers are never cut off, the
// finished log can outlive the process.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBytes, type ByteReader } from './support/byte-reader.ts';
import { runCli } from './support/cli-process.ts';
import { livelogEnv, startLivelog, type LivelogProcess } from './support/livelog-process.ts';
import { rssAnonMb } from './support/process-memory.ts';
import { startServer } from './support/server-process.ts';
import { makeTestCerts } from './support/tls-certs.ts';

const TOKEN = 'tok-3f9a1c';

interface Put {
  write(chunk: Buffer | string): Promise<void>;
  /** Ends the body; resolves with the answer. */
  end(): Promise<{ status: number; body: string }>;
  /** The producer goes away mid-body. */
  abort(): void;
  answer: Promise<{ status: number; body: string }>;
}

/** A PUT whose chunked body the test writes piece by piece (with backpressure). */
function startPut(url: string, method = 'PUT'): Put {
  const req = http.request(url, { method, agent: false, headers: { 'Content-Type': 'text/plain' } });
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
  answer.catch(() => undefined);
  req.flushHeaders();
  return {
    write: (chunk) => (req.write(chunk) ? Promise.resolve() : new Promise((resolve) => req.once('drain', resolve))),
    end: () => {
      req.end();
      return answer;
    },
    abort: () => req.destroy(),
    answer,
  };
}

/** A whole request with a small body: status and text. */
async function request(
  url: string,
  method: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(url, { method, body, headers });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** Line `n` of a sequence-numbered log, `size` bytes with its newline. */
const seqLine = (n: number, size = 1024): string => `${String(n).padStart(8, '0')} ${'x'.repeat(size - 10)}\n`;

describe('log-service livelog', function () {
  this.timeout(120_000);
  const running: LivelogProcess[] = [];
  const readers: ByteReader[] = [];
  const dirs: string[] = [];
  const start = async (env: Record<string, string> = {}) => {
    const p = await startLivelog({ ACCESS_TOKEN: TOKEN, ...env });
    running.push(p);
    return p;
  };
  const read = async (url: string, options?: Parameters<typeof readBytes>[1]) => {
    const r = await readBytes(url, options);
    readers.push(r);
    return r;
  };
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'livelog-test-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(async () => {
    for (const r of readers.splice(0)) r.close();
    for (const p of running.splice(0)) await p.stop();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('streams 10,000 ~1 KB lines of one PUT to a reader attached before the first byte, byte for byte, then ends it cleanly; a finished log gets Content-Length', async () => {
    const temp = tempDir();
    const livelog = await start({ LIVELOG_TEMP_DIR: temp });
    assert.equal(readdirSync(temp).filter((f) => f.startsWith('livelog-')).length, 1, 'the bytes are kept in a directory of its own');
    const early = await read(livelog.getUrl);
    assert.equal(early.status, 200);
    assert.equal(early.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(early.headers['access-control-allow-origin'], '*');
    assert.equal(early.headers['access-control-expose-headers'], 'Transfer-Encoding');
    assert.equal(early.headers['transfer-encoding'], 'chunked');
    assert.equal(early.headers['content-length'], undefined);

    const put = startPut(livelog.putUrl);
    let expected = '';
    for (let n = 0; n < 10_000; n += 50) {
      let piece = '';
      for (let i = n; i < n + 50; i++) piece += seqLine(i);
      expected += piece;
      await put.write(piece);
    }
    // While the PUT is open, a second one is refused with livelog's words.
    const second = await request(livelog.putUrl, 'PUT', 'more\n');
    assert.deepEqual([second.status, second.body], [400, 'This endpoint can only process one http PUT at a time']);
    const answer = await put.end();
    assert.deepEqual(answer, { status: 201, body: '' });
    await early.finished();
    assert.equal(early.complete, true, 'the reader ends with the chunked terminator');
    assert.ok(early.bytes().equals(Buffer.from(expected)), `the reader got ${early.received} bytes of ${expected.length}, byte for byte`);

    const late = await read(livelog.getUrl);
    assert.equal(late.headers['content-length'], String(expected.length));
    await late.finished();
    assert.equal(late.complete, true);
    assert.ok(late.bytes().equals(Buffer.from(expected)));
    const head = await request(livelog.getUrl, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(expected.length));
    // livelog served the log to any method on the GET port.
    const posted = await request(livelog.getUrl, 'POST', 'ignored');
    assert.equal(posted.body, expected);

    // RFC 9110 ranges (the default) on the finished log.
    const part = await request(livelog.getUrl, 'GET', undefined, { Range: 'bytes=1024-1031' });
    assert.deepEqual([part.status, part.body, part.headers.get('content-range')], [206, '00000001', `bytes 1024-1031/${expected.length}`]);
    const suffix = await request(livelog.getUrl, 'GET', undefined, { Range: 'bytes=-9' });
    assert.deepEqual([suffix.status, suffix.body], [206, expected.slice(-9)]);
    const outside = await request(livelog.getUrl, 'GET', undefined, { Range: `bytes=${expected.length + 5}-` });
    assert.deepEqual([outside.status, outside.headers.get('content-range')], [416, `bytes */${expected.length}`]);

    // After the log is finished, a new PUT would reach no reader: 409, with a message that says what to do.
    const again = await request(livelog.putUrl, 'PUT', 'a new log\n');
    assert.equal(again.status, 409);
    assert.match(again.body, /finished.*start another livelog/);

    // The bytes' directory is removed on a clean exit.
    assert.equal(await livelog.stop(), 0);
    assert.deepEqual(readdirSync(temp), []);
  });

  it("answers livelog's refusals: non-PUT on /log 400, other paths 404, wrong token or anything after it 401 with CORS", async () => {
    const livelog = await start();
    for (const method of ['GET', 'POST', 'DELETE']) {
      const r = await request(livelog.putUrl, method);
      assert.deepEqual([r.status, r.body], [400, 'This endpoint can only handle PUT requests'], method);
    }
    assert.equal((await request(`http://127.0.0.1:${livelog.putPort}/logs`, 'PUT', 'x')).status, 404);
    assert.equal((await request(`http://127.0.0.1:${livelog.getPort}/other`, 'GET')).status, 404);
    const base = `http://127.0.0.1:${livelog.getPort}/log/`;
    for (const path of [`${TOKEN}x`, 'wrong', '', `${TOKEN}/more`, `${TOKEN}?a=1`, TOKEN.slice(0, -1)]) {
      const r = await request(base + path, 'GET');
      assert.deepEqual([r.status, r.body, r.headers.get('access-control-allow-origin')], [401, 'Access denied', '*'], path);
    }
  });

  it('holds a reader that comes before the producer, and cuts every reader off (no terminator) when the producer goes away mid-body', async () => {
    const livelog = await start();
    const before = await read(livelog.getUrl);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(before.received, 0);
    assert.equal(before.ended, false, 'the reader waits for the producer');
    const put = startPut(livelog.putUrl);
    await put.write('first line\nsecond, half');
    await before.until('first line\nsecond, half'.length, 10_000);
    const during = await read(livelog.getUrl);
    await during.until(5, 10_000);
    put.abort();
    await before.finished();
    await during.finished();
    assert.equal(before.complete, false, 'a cut-off log is not ended as if whole');
    assert.equal(during.complete, false);
    assert.equal(before.bytes().toString(), 'first line\nsecond, half');
    // The cut-off log stays readable (and says it is cut off the same way); no new PUT is taken.
    const after = await read(livelog.getUrl);
    await after.finished();
    assert.equal(after.bytes().toString(), 'first line\nsecond, half');
    assert.equal((await request(livelog.putUrl, 'PUT', 'x')).status, 409);
  });

  it('gives 50 readers — before, mid-stream and after the end — 5,000 ~900-byte multi-line chunks byte for byte', async () => {
    const livelog = await start();
    const chunk = (i: number): string => {
      // Lines of varying length, cut at 900 bytes: a chunk ends inside a line.
      let text = '';
      for (let j = 0; text.length < 900; j++) text += `chunk ${i} line ${j} ${'y'.repeat((i * 7 + j * 13) % 120)}\n`;
      return text.slice(0, 880 + (i % 40));
    };
    const early = await Promise.all(Array.from({ length: 20 }, () => read(livelog.getUrl)));
    const put = startPut(livelog.putUrl);
    let expected = '';
    for (let i = 0; i < 2500; i++) {
      expected += chunk(i);
      await put.write(chunk(i));
    }
    const mid = await Promise.all(Array.from({ length: 20 }, () => read(livelog.getUrl)));
    for (let i = 2500; i < 5000; i++) {
      expected += chunk(i);
      await put.write(chunk(i));
    }
    assert.equal((await put.end()).status, 201);
    const late = await Promise.all(Array.from({ length: 10 }, () => read(livelog.getUrl)));
    const want = Buffer.from(expected);
    for (const [i, r] of [...early, ...mid, ...late].entries()) {
      await r.finished();
      assert.equal(r.complete, true, `reader ${i} ended cleanly`);
      assert.ok(r.bytes().equals(want), `reader ${i}: ${r.received} bytes of ${want.length}, byte for byte`);
    }
  });

  it('never cuts off a reader that stops for 5 s while 30 MB flow: the producer and the other readers do not wait for it, and it catches up', async () => {
    const livelog = await start();
    const pid = livelog.cli.child.pid!;
    const slow = await read(livelog.getUrl);
    const fast = await read(livelog.getUrl);
    slow.pause();
    const pausedAt = Date.now();
    const baseline = rssAnonMb(pid);
    let peak = baseline;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, rssAnonMb(pid));
      } catch {
        clearInterval(sampler); // the process is gone (a failed assertion stopped it): no uncaught error in later tests
      }
    }, 100);
    const put = startPut(livelog.putUrl);
    const TOTAL = 30 * 1024 * 1024;
    const hash = createHash('sha256');
    let n = 0;
    for (let sent = 0; sent < TOTAL;) {
      let piece = '';
      for (let i = 0; i < 64; i++) piece += seqLine(n++);
      hash.update(piece);
      sent += piece.length;
      await put.write(piece);
    }
    const sum = hash.digest('hex');
    const total = n * 1024;
    assert.equal((await put.end()).status, 201);
    await fast.finished(60_000);
    const producedMs = Date.now() - pausedAt;
    const flowPeak = peak;
    assert.equal(fast.complete, true);
    assert.equal(fast.received, total);
    // All of it went through while the slow reader was not reading.
    assert.ok(slow.received < total / 2, `the paused reader holds ${slow.received} bytes`);
    assert.equal(slow.ended, false, 'the paused reader is still connected');
    await new Promise((r) => setTimeout(r, Math.max(0, 5000 - producedMs)));
    slow.resume();
    await slow.finished(60_000);
    clearInterval(sampler);
    assert.equal(slow.complete, true, 'the slow reader was not cut off');
    assert.equal(createHash('sha256').update(slow.bytes()).digest('hex'), sum, 'and got every byte');
    // Memory (docs/LIVELOG.md §5): a full-speed producer takes a livelog process to a plateau of ~120-140 MB over its
    // start (the ring's 10,000 lines, the archive writer's 4 MiB, the garbage of 30 MB of lines not yet collected),
    // paused reader or not; the paused reader holds one batch. Its catch-up reads the archive's chunks through the
    // decoded-chunk cache (at most 128 MiB per process).
    assert.ok(flowPeak - baseline < 160, `RssAnon grew by ${(flowPeak - baseline).toFixed(1)} MB while 30 MB flowed past a paused reader`);
    assert.ok(peak - baseline < 300, `RssAnon grew by ${(peak - baseline).toFixed(1)} MB by the end of the catch-up`);
  });

  it('serves the GET port over HTTPS with SERVER_CRT_FILE and SERVER_KEY_FILE', async () => {
    const certs = makeTestCerts();
    const livelog = await start({ SERVER_CRT_FILE: certs.serverCert, SERVER_KEY_FILE: certs.serverKey });
    assert.match(livelog.getUrl, /^https:/);
    const reader = await read(livelog.getUrl, { ca: certs.read(certs.caFile) });
    assert.equal((await startPut(livelog.putUrl).end()).status, 201);
    await reader.finished();
    assert.equal(reader.status, 200);
    assert.equal(reader.complete, true);
    const denied = await read(livelog.getUrl.replace(TOKEN, 'nope'), { ca: certs.read(certs.caFile) });
    assert.equal(denied.status, 401);
    await assert.rejects(readBytes(livelog.getUrl.replace('https:', 'http:')), 'plain HTTP is not served on the TLS port');
  });

  it("reproduces the old livelog's Range answers with LIVELOG_RANGE_MODE=legacy", async () => {
    const livelog = await start({ LIVELOG_RANGE_MODE: 'legacy' });
    const text = Array.from({ length: 10 }, (_, i) => `line ${i} ${'z'.repeat(2)}\n`).join(''); // 100 bytes
    // While live: a closed range ends at its last byte without waiting for the log's end.
    const put = startPut(livelog.putUrl);
    await put.write(text);
    const live = await read(livelog.getUrl, { headers: { Range: 'bytes=2-4' } });
    await live.finished(10_000);
    assert.deepEqual([live.status, live.bytes().toString()], [200, text.slice(2, 5)]);
    assert.equal((await put.end()).status, 201);
    const rows: [string, number, string][] = [
      ['bytes=10-19', 200, text.slice(10, 20)],
      ['bytes=10-', 200, text.slice(10)],
      ['bytes=-5', 200, text.slice(0, 6)],
      ['bytes=0-0', 200, text.slice(0, 1)],
      ['bytes=95-500', 200, text.slice(95)],
      ['items=0-1', 416, 'Other then byte prefix given'],
      ['bytes=0-1,3-4', 416, 'Cannot handle multiple range segments...'],
      ['bytes=5', 416, 'Unknown range segements...'],
      ['bytes=1-2-3', 416, 'Too many range segements'],
      ['bytes=a-3', 416, 'strconv.Atoi: parsing "a": invalid syntax'],
    ];
    for (const [range, status, body] of rows) {
      const r = await request(livelog.getUrl, 'GET', undefined, { Range: range });
      assert.deepEqual([r.status, r.body], [status, body], range);
      assert.equal(r.headers.get('content-range'), null, `${range}: legacy mode sends no Content-Range`);
    }
    const whole = await request(livelog.getUrl, 'GET');
    assert.deepEqual([whole.status, whole.body], [200, text]);
  });

  it('stores the finished log as a step blob with LIVELOG_ARCHIVE_KEY, readable by the server afterwards', async () => {
    const dir = tempDir();
    const lmdb = join(dir, 'store.lmdb');
    const livelog = await start({ LIVELOG_ARCHIVE_KEY: 'proj/42/build/test', LOG_SERVICE_LMDB_PATH: lmdb });
    const text = 'compiling\nlinking\nno newline at the end';
    const put = startPut(livelog.putUrl);
    await put.write(text);
    assert.equal((await put.end()).status, 201);
    assert.equal(await livelog.stop(), 0);
    const server = await startServer({ LOG_SERVICE_LMDB_PATH: lmdb });
    try {
      const raw = await request(`${server.url}/ci/proj/42/build/test/raw`, 'GET');
      assert.deepEqual([raw.status, raw.body], [200, text], 'byte for byte, the unterminated last line included');
    } finally {
      await server.stop();
    }
  });

  describe('refuses to start, with one line saying why', function () {
    const cases: [string, Record<string, string>, number, RegExp][] = [
      ['ACCESS_TOKEN unset', { ACCESS_TOKEN: '' }, 1, /ACCESS_TOKEN is not set/],
      ['LIVELOG_PUT_PORT not a number', { LIVELOG_PUT_PORT: 'http' }, 64, /LIVELOG_PUT_PORT is not a number/],
      ['LIVELOG_PUT_PORT out of range', { LIVELOG_PUT_PORT: '70000' }, 65, /LIVELOG_PUT_PORT is not between \[0, 65535\]/],
      ['LIVELOG_GET_PORT not a number', { LIVELOG_GET_PORT: '6x' }, 66, /LIVELOG_GET_PORT is not a number/],
      ['LIVELOG_GET_PORT out of range', { LIVELOG_GET_PORT: '-1' }, 67, /LIVELOG_GET_PORT is not between/],
      ['a certificate without its key', { SERVER_CRT_FILE: '/etc/hostname' }, 1, /SERVER_CRT_FILE is set without SERVER_KEY_FILE/],
      ['an unknown range mode', { LIVELOG_RANGE_MODE: 'bytes' }, 1, /LIVELOG_RANGE_MODE must be rfc9110 or legacy/],
      ['a bad archive key', { LIVELOG_ARCHIVE_KEY: '../x' }, 1, /LIVELOG_ARCHIVE_KEY/],
    ];
    for (const [what, env, code, message] of cases) {
      it(`${what}: exit ${code}`, async () => {
        const result = await runCli(['livelog'], { env: livelogEnv({ ACCESS_TOKEN: TOKEN, ...env }), timeoutMs: 20_000 });
        assert.equal(result.code, code, result.stderr);
        assert.match(result.stderr, message);
        assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      });
    }
  });

  it('listens on every interface like livelog, or only where LIVELOG_BIND_ADDRESS says', async () => {
    const everywhere = await startLivelog({ ACCESS_TOKEN: TOKEN, LIVELOG_BIND_ADDRESS: '' });
    running.push(everywhere);
    // 127.0.0.2 is this machine too, but not 127.0.0.1: only a server on every interface answers there.
    assert.equal((await request(`http://127.0.0.2:${everywhere.getPort}/log/${TOKEN}`, 'HEAD')).status, 200);
    assert.equal((await request(`http://127.0.0.2:${everywhere.putPort}/log`, 'GET')).status, 400);
    const local = await start(); // LIVELOG_BIND_ADDRESS=127.0.0.1
    await assert.rejects(request(`http://127.0.0.2:${local.getPort}/log/${TOKEN}`, 'HEAD'));
    assert.equal((await request(local.getUrl, 'HEAD')).status, 200);
  });
});
