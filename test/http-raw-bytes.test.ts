// The raw view as bytes (docs/PROTOCOL.md §7.1, §7.2): RFC 9110 ranges on
// live and finished logs, and byte appends — PATCH at an offset with GitLab's
// trace semantics, PUT as the body arrives — on the memory and Redis
// backends, with a race on one offset between two instances sharing a Redis.
import assert from 'node:assert/strict';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRedis, type TestRedis } from './support/redis-server.ts';
import { startTestServer, type TestServer } from './support/in-process-server.ts';
import { openRaw } from './support/raw-reader.ts';
import { openSse, outs } from './support/sse-reader.ts';

let counter = 0;
const newId = () => `b${process.pid}-${Date.now().toString(36)}-${counter++}`;

interface Reply {
  status: number;
  headers: Headers;
  text: string;
}

async function call(method: string, url: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(url, { method, body, headers, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

function steps(server: () => TestServer) {
  const at = (id: string, path: string) => `${server().url}/ci/p/${id}/s/t/${path}`;
  return {
    at,
    open: async (id: string) => assert.equal((await call('POST', at(id, 'stream'))).status, 204),
    push: async (id: string, text: string) => assert.equal((await call('PUT', at(id, 'stream'), text, { 'Content-Type': 'text/plain' })).status, 204),
    close: async (id: string) => assert.equal((await call('DELETE', at(id, 'stream'))).status, 204),
    patch: (id: string, first: number, body: string, range = `bytes ${first}-${first + Buffer.byteLength(body) - 1}/*`) =>
      call('PATCH', at(id, 'raw'), body, { 'Content-Range': range }),
    text: async (id: string) => (await call('GET', at(id, 'raw'))).text,
  };
}

describe('raw view: RFC 9110 ranges (§7.1)', function () {
  this.timeout(30_000);
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ LOG_SERVICE_STREAM_MAX_LINES: '5', LOG_SERVICE_STREAM_CLOSED_GRACE_SECONDS: '0' });
  });
  after(async () => server.destroy());
  const s = steps(() => server);

  it('on a live log: a-b is 206 with Content-Range bytes a-b/* and exactly those bytes', async () => {
    const id = newId();
    await s.open(id);
    await s.push(id, 'hello\nworld\n');
    const raw = await openRaw(s.at(id, 'raw'), 10_000, { Range: 'bytes=2-4' });
    assert.equal(raw.status, 206);
    assert.equal(raw.headers['content-range'], 'bytes 2-4/*');
    await raw.ended();
    assert.equal(raw.text(), 'llo');
  });

  it('on a live log: a-b past the end waits for its bytes, then ends', async () => {
    const id = newId();
    await s.open(id);
    await s.push(id, 'hello\nworld\n');
    const raw = await openRaw(s.at(id, 'raw'), 10_000, { Range: 'bytes=6-15' });
    assert.equal(raw.status, 206);
    await raw.until((t) => t === 'world\n');
    assert.equal(raw.done(), false);
    await s.push(id, 'more text\n');
    await raw.ended();
    assert.equal(raw.text(), 'world\nmore');
  });

  it('on a live log: a range that starts in bytes the ring no longer holds is served from the archive', async () => {
    const id = newId();
    await s.open(id);
    const lines = Array.from({ length: 200 }, (_, i) => `line ${String(i).padStart(4, '0')}\n`); // 10 bytes each
    for (let i = 0; i < lines.length; i += 20) await s.push(id, lines.slice(i, i + 20).join(''));
    const raw = await openRaw(s.at(id, 'raw'), 10_000, { Range: 'bytes=105-134' });
    assert.equal(raw.status, 206);
    await raw.ended();
    assert.equal(raw.text(), lines.join('').slice(105, 135));
  });

  it('on a live log: -n is the last n bytes there are now; a- follows from a (200, X-Log-Offset); -0 is 416', async () => {
    const id = newId();
    await s.open(id);
    await s.push(id, 'hello\nworld\n');
    const last = await openRaw(s.at(id, 'raw'), 10_000, { Range: 'bytes=-6' });
    assert.equal(last.status, 206);
    assert.equal(last.headers['content-range'], 'bytes 6-11/*');
    await last.ended();
    assert.equal(last.text(), 'world\n');

    const from = await openRaw(s.at(id, 'raw'), 10_000, { Range: 'bytes=9-' });
    assert.equal(from.status, 200);
    assert.equal(from.offset, '9');
    await from.until((t) => t === 'ld\n');
    await s.push(id, 'later\n');
    await from.until((t) => t === 'ld\nlater\n');

    const none = await call('GET', s.at(id, 'raw'), undefined, { Range: 'bytes=-0' });
    assert.equal(none.status, 416);
    assert.equal(none.headers.get('content-range'), 'bytes */18');
    assert.equal(JSON.parse(none.text).error_code, 'LOGSVC_RANGE_NOT_SATISFIABLE');
    await s.close(id);
    await from.ended();
    assert.equal(from.text(), 'ld\nlater\n');
  });

  it('ignores another unit or several ranges (200, the whole text); HEAD says the length there is now', async () => {
    const id = newId();
    await s.open(id);
    await s.push(id, 'hello\nworld\n');
    for (const range of ['items=0-3', 'bytes=0-1,4-5']) {
      const raw = await openRaw(s.at(id, 'raw'), 10_000, { Range: range });
      assert.equal(raw.status, 200, range);
      assert.equal(raw.offset, '0');
      await raw.until((t) => t === 'hello\nworld\n');
      raw.close();
    }
    const head = await call('HEAD', s.at(id, 'raw'));
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '12');
    assert.equal(head.headers.get('x-log-live'), 'true');
    await s.close(id);
  });

  it('on a finished log: 206 with the length in Content-Range and Content-Length, 416 past the end, HEAD', async () => {
    const id = newId();
    await s.open(id);
    await s.push(id, 'hello\nworld\n');
    assert.equal((await call('DELETE', `${s.at(id, 'stream')}?snapshot=true`)).status, 204);
    await sleep(50);
    const cases: [string, string, string][] = [
      ['bytes=2-4', 'bytes 2-4/12', 'llo'],
      ['bytes=5-', 'bytes 5-11/12', '\nworld\n'],
      ['bytes=-3', 'bytes 9-11/12', 'ld\n'],
      ['bytes=10-99', 'bytes 10-11/12', 'd\n'],
    ];
    for (const [range, contentRange, body] of cases) {
      const got = await call('GET', s.at(id, 'raw'), undefined, { Range: range });
      assert.equal(got.status, 206, range);
      assert.equal(got.headers.get('content-range'), contentRange, range);
      assert.equal(got.headers.get('content-length'), String(Buffer.byteLength(body)), range);
      assert.equal(got.text, body, range);
    }
    const past = await call('GET', s.at(id, 'raw'), undefined, { Range: 'bytes=12-' });
    assert.equal(past.status, 416);
    assert.equal(past.headers.get('content-range'), 'bytes */12');
    const head = await call('HEAD', s.at(id, 'raw'));
    assert.equal(head.headers.get('content-length'), '12');
    assert.equal(head.headers.get('x-log-live'), null);
    assert.equal(await s.text(id), 'hello\nworld\n');
  });
});

for (const backend of ['memory', 'redis'] as const) {
  describe(`raw view: byte appends (§7.2), ${backend} streams`, function () {
    this.timeout(30_000);
    let redis: TestRedis | null = null;
    let server: TestServer;
    let second: TestServer | undefined;
    before(async function () {
      let env: Record<string, string> = { LOG_SERVICE_STREAM_CLOSED_GRACE_SECONDS: '30' };
      if (backend === 'redis') {
        redis = await startRedis();
        if (redis === null) this.skip();
        env = { ...env, LOG_SERVICE_REDIS_URL: redis.url };
        second = await startTestServer(env);
      }
      server = await startTestServer(env);
    });
    after(async () => {
      await server?.destroy();
      await second?.destroy();
      await redis?.stop();
    });
    const s = steps(() => server);

    it('appends at the length, takes identical and overlapping retries, refuses holes and changed bytes, and says the length in Range', async () => {
      const id = newId();
      await s.open(id);
      const expect = async (reply: Promise<Reply>, status: number, range: string) => {
        const got = await reply;
        assert.equal(got.status, status, got.text);
        assert.equal(got.headers.get('range'), range);
        return got;
      };
      await expect(s.patch(id, 0, 'hello\n'), 202, '0-6');
      await expect(s.patch(id, 6, 'wor'), 202, '0-9');
      await expect(s.patch(id, 6, 'wor'), 202, '0-9'); // the same bytes again
      await expect(s.patch(id, 6, 'world!\n'), 202, '0-13'); // overlaps the end and extends it
      const hole = await expect(s.patch(id, 20, 'x'), 416, '0-13');
      assert.equal(JSON.parse(hole.text).error_code, 'LOGSVC_RANGE_NOT_SATISFIABLE');
      await expect(s.patch(id, 0, 'HELLO'), 416, '0-13'); // other bytes where bytes are
      await expect(s.patch(id, 4, 'o\nW'), 416, '0-13'); // overlap that differs past the part that matches
      await expect(s.patch(id, 13, 'bye\n', 'bytes 13-16'), 202, '0-17'); // GitLab's form, without "/*"
      for (const range of [undefined, 'bytes 5', 'items 0-1/*', 'bytes 13-20/*']) {
        const bad = await call('PATCH', s.at(id, 'raw'), 'x', range === undefined ? {} : { 'Content-Range': range });
        assert.equal(bad.status, 400, String(range));
        assert.equal(JSON.parse(bad.text).error_code, 'LOGSVC_INVALID_PARAM');
      }
      await s.close(id);
      assert.equal(await s.text(id), 'hello\nworld!\nbye\n');
    });

    it('holds a partial last line: SSE viewers see whole lines, raw readers the text up to the last newline, the close ends it', async () => {
      const id = newId();
      await s.open(id);
      const sse = await openSse(s.at(id, 'stream'));
      await s.patch(id, 0, 'one\ntw');
      await s.patch(id, 6, 'o\nthr');
      await s.patch(id, 11, 'ee');
      const head = await call('HEAD', s.at(id, 'raw'));
      assert.equal(head.headers.get('content-length'), '8', 'raw readers see whole lines');
      await s.close(id);
      await sse.ended();
      assert.deepEqual(outs(sse.events()), ['one\n', 'two\n', 'three']);
      assert.equal(await s.text(id), 'one\ntwo\nthree');
    });

    it('PUT appends a chunked body as it arrives: a reader sees every byte before the body ends, a partial line too; 202 with the length at the end', async () => {
      const id = newId();
      await s.open(id);
      const raw = await openRaw(s.at(id, 'raw'));
      const url = new URL(s.at(id, 'raw'));
      const answer = new Promise<http.IncomingMessage>((resolve, reject) => {
        const req = http.request(url, { method: 'PUT' }, resolve);
        req.on('error', reject);
        req.write('first li');
        // The held partial line wakes raw readers on the memory ring; on Redis they get it with the next whole line.
        const partial = backend === 'memory' ? raw.until((t) => t === 'first li') : new Promise((r) => setTimeout(r, 100));
        void partial
          .then(() => req.write('ne\nsecond '))
          .then(() => raw.until((t) => t === 'first line\nsecond '))
          .then(() => req.end('line\n'), reject);
      });
      const res = await answer;
      res.resume();
      assert.equal(res.statusCode, 202);
      assert.equal(res.headers.range, '0-23');
      await raw.until((t) => t === 'first line\nsecond line\n');
      raw.close();
      await s.close(id);
    });

    it('answers 404 to an append to a stream that is not open, before reading the body', async () => {
      const reply = await s.patch(newId(), 0, 'x');
      assert.equal(reply.status, 404);
      assert.equal(JSON.parse(reply.text).error_code, 'LOGSVC_STREAM_NOT_FOUND');
    });

    it('lets exactly one of many PATCHes racing on one offset win, across instances', async function () {
      const id = newId();
      await s.open(id);
      const instances = [server, second ?? server];
      const replies = await Promise.all(
        Array.from({ length: 12 }, (_, i) => {
          const url = `${instances[i % 2]!.url}/ci/p/${id}/s/t/raw`;
          return call('PATCH', url, `writer ${String(i).padStart(2, '0')}\n`, { 'Content-Range': 'bytes 0-9/*' });
        }),
      );
      const won = replies.filter((r) => r.status === 202);
      assert.equal(won.length, 1, replies.map((r) => r.status).join(','));
      assert.ok(
        replies.every((r) => r.status === 202 || r.status === 416),
        replies.map((r) => `${r.status} ${r.text}`).join('; '),
      );
      await s.close(id);
      assert.match(await s.text(id), /^writer \d\d\n$/);
    });
  });
}
