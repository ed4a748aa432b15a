// The live archive (docs/ARCHIVE.md): the whole log stays readable while the
// ring keeps only the last 1,000 lines — a late joiner over SSE and raw, a raw
// read at an offset inside archived chunks, a slow viewer that fell out of the
// ring, and the snapshot of a closed stream — on both blob stores.
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from './support/in-process-server.ts';
import { countSse, readRawBytes } from './support/log-readers.ts';
import { startS3Recorder, type S3Delay, type S3Intercept, type S3Recorder } from './support/s3-recorder.ts';
import { startS3rver, type S3rverHandle } from './support/s3rver.ts';

const LINES = 200_000;
// Below the ring (1,000 lines): the lines of one push past the ring are never held (docs/ARCHIVE.md §7).
const PUSH_LINES = 500;

/** Line `seq` of the test log: 100 bytes with its number, so any gap or reorder shows. */
const lineText = (seq: number): string => `${String(seq).padStart(8, '0')} ${'x'.repeat(90)}\n`;

function logText(from: number, to: number): string {
  let text = '';
  for (let seq = from; seq < to; seq++) text += lineText(seq);
  return text;
}

/**
 * Pushes lines [from, to) as a runner does, 500 lines a push, a push every
 * PACE_MS at most: about 50,000 lines (5 MB) a second, the busy job.
 * The archive keeps up with more (docs/ARCHIVE.md §6), but not with a
 * producer in the same process pushing as fast as the event loop turns.
 */
const PACE_MS = 10;
/**
 * `json`: as the Harness clients push, a JSON array of line objects, which the
 * memory backend keeps as sent and the archive stores as sent (docs/ARCHIVE.md §2).
 */
type PushFormat = 'text' | 'json';
async function pushAll(url: string, from: number, to: number, format: PushFormat = 'text'): Promise<void> {
  for (let seq = from; seq < to; seq += PUSH_LINES) {
    const started = Date.now();
    const end = Math.min(to, seq + PUSH_LINES);
    const body = format === 'text' ? logText(seq, end) : JSON.stringify(Array.from({ length: end - seq }, (_, i) => ({ out: lineText(seq + i) })));
    const res = await fetch(url, { method: 'PUT', body, headers: { 'Content-Type': format === 'text' ? 'text/plain' : 'application/json' } });
    assert.equal(res.status, 204);
    const rest = PACE_MS - (Date.now() - started);
    if (rest > 0) await new Promise((r) => setTimeout(r, rest));
  }
}

function suite(label: string, env: () => Record<string, string>) {
  describe(`the live archive on ${label}`, function () {
    this.timeout(60_000);
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ LOG_SERVICE_STREAM_MAX_LINES: '1000', LOG_SERVICE_STREAM_CLOSED_GRACE_SECONDS: '5', ...env() });
    });
    after(async () => server?.destroy());
    const ci = (id: string, path: string) => `${server.url}/ci/p/${id}/s/t/${path}`;

    for (const format of ['text', 'json'] as const) {
      it(`gives a late joiner of a 200k-line live stream every line over SSE and raw, and raw from an offset inside the chunks (${format} pushes)`, async () => {
        await lateJoiner(`late-${format}`, format);
      });
    }

    async function lateJoiner(id: string, format: PushFormat): Promise<void> {
      const ci = (_: string, path: string) => `${server.url}/ci/p/${id}/s/t/${path}`;
      assert.equal((await fetch(ci('late', 'stream'), { method: 'POST' })).status, 204);
      // A slow viewer: joined at the start, then stops reading while the whole log goes by.
      const slow = await countSse(ci('late', 'stream'));
      slow.pause();
      await pushAll(ci('late', 'stream'), 0, LINES, format);
      // Nobody read the pushes as they came (the slow viewer stopped): the archive holds JSON pushes as sent.
      const chunks = [];
      for await (const entry of server.services.context.store.list(`~archive/default/p/${id}/s/t/`)) chunks.push(entry.name);
      assert.ok(chunks.length > 0);
      const first = await server.services.context.store.get(chunks[Math.floor(chunks.length / 2)]!);
      const parts: Buffer[] = [];
      for await (const part of first!.body as AsyncIterable<Buffer>) parts.push(part);
      assert.equal(Buffer.concat(parts).includes('{"~push":'), format === 'json', 'a chunk holds pushes as sent only when they came as JSON');
      const total = Buffer.byteLength(logText(0, LINES));

      const sse = await countSse(ci('late', 'stream'));
      await sse.until(LINES);
      assert.deepEqual(sse.dropped, []);
      assert.equal(sse.outOfOrder, undefined);
      assert.equal(sse.next, LINES);
      sse.close();

      const raw = await readRawBytes(`${ci('late', 'raw')}?offset=0`);
      await raw.until(total);
      assert.equal(raw.offset, 0);
      assert.ok(raw.bytes().equals(Buffer.from(logText(0, LINES))), 'raw from 0 is the whole log');
      raw.close();

      // Byte 1,234,567 is inside line 12,222 (100 bytes a line), in an archived chunk.
      const offset = 1_234_567;
      const part = await readRawBytes(`${ci('late', 'raw')}?offset=${offset}`);
      await part.until(total - offset);
      assert.equal(part.offset, offset);
      assert.ok(part.bytes().equals(Buffer.from(logText(0, LINES)).subarray(offset)), 'raw from an offset inside the archive');
      part.close();

      slow.resume();
      await slow.until(LINES);
      assert.deepEqual(slow.dropped, [], 'the slow viewer caught up from the archive');
      assert.equal(slow.outOfOrder, undefined);
      slow.close();

      // Closed with a snapshot: the blob is the whole log.
      assert.equal((await fetch(`${ci('late', 'stream')}?snapshot=true`, { method: 'DELETE' })).status, 204);
      const blob = await fetch(ci('late', 'blob'));
      assert.equal(blob.status, 200);
      const rows = (await blob.text()).split('\n').filter((r) => r !== '');
      assert.equal(rows.length, LINES);
      assert.equal((JSON.parse(rows[0]!) as { out: string }).out, lineText(0));
      assert.equal((JSON.parse(rows[LINES - 1]!) as { out: string }).out, lineText(LINES - 1));
      // The finished log is every line's JSON, pushes kept as sent included: none is left as it was sent.
      for (const seq of [0, 777, 123_456, LINES - 1]) {
        assert.deepEqual(Object.keys(JSON.parse(rows[seq]!) as object), ['level', 'pos', 'out', 'time']);
        assert.equal((JSON.parse(rows[seq]!) as { pos: number }).pos, seq);
      }
    }

    it('never shows the chunks in a listing or a zip', async () => {
      assert.equal((await fetch(ci('hidden', 'stream'), { method: 'POST' })).status, 204);
      await pushAll(ci('hidden', 'stream'), 0, 3000);
      await new Promise((r) => setTimeout(r, 1500)); // a time-bounded chunk is written
      const zip = await fetch(`${server.url}/ci/p/hidden/zip`);
      assert.ok(zip.status === 200 || zip.status === 404, `zip answered ${zip.status}`);
      if (zip.status === 200) assert.ok(!Buffer.from(await zip.arrayBuffer()).includes('~archive'), 'no chunk in the zip');
      await fetch(ci('hidden', 'stream'), { method: 'DELETE' });
    });
  });
}

suite('LMDB', () => ({}));

describe("the live archive at the end of a closed stream's grace period", function () {
  this.timeout(30_000);
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ LOG_SERVICE_STREAM_MAX_LINES: '1000', LOG_SERVICE_STREAM_CLOSED_GRACE_SECONDS: '1' });
  });
  after(async () => server?.destroy());

  it('serves the whole log to every reader, from the closed stream and its chunks or from the snapshot, never the ring alone', async () => {
    const url = `${server.url}/ci/p/grace/s/t/stream`;
    assert.equal((await fetch(url, { method: 'POST' })).status, 204);
    await pushAll(url, 0, 5000);
    const whole = Buffer.from(logText(0, 5000));
    await new Promise((r) => setTimeout(r, 1200)); // the last chunk is written
    assert.equal((await fetch(`${url}?snapshot=true`, { method: 'DELETE' })).status, 204);
    // Across the end of the grace period (1 s) and the memory backend's sweep after it (≤ 1 s).
    const until = Date.now() + 3000;
    let reads = 0;
    while (Date.now() < until) {
      const raw = await readRawBytes(`${server.url}/ci/p/grace/s/t/raw?offset=0`);
      await raw.until(whole.length, 5000).catch(() => undefined);
      raw.close();
      assert.equal(raw.offset, 0, `read ${reads} started at byte ${raw.offset}`);
      assert.ok(raw.bytes().equals(whole), `read ${reads}: ${raw.bytes().length} of ${whole.length} bytes`);
      reads++;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(reads >= 10, `${reads} reads`);
  });
});

/** The server's settings for the S3 store of `s3`, reached at `endpoint` (s3rver itself, or a proxy in front of it). */
function s3Settings(s3: S3rverHandle, endpoint: string): Record<string, string> {
  return {
    LOG_SERVICE_S3_BUCKET: s3.bucket,
    LOG_SERVICE_S3_ENDPOINT: endpoint,
    LOG_SERVICE_S3_PATH_STYLE: 'true',
    LOG_SERVICE_S3_ACCESS_KEY_ID: s3.config.accessKeyId!,
    LOG_SERVICE_S3_SECRET_ACCESS_KEY: s3.config.secretAccessKey!,
  };
}

describe('', function () {
  let s3: S3rverHandle | undefined;
  before(async function () {
    this.timeout(30_000);
    s3 = await startS3rver();
  });
  after(async () => s3?.stop());
  suite('S3', () => s3Settings(s3!, s3!.endpoint));
});

/**
 * For one describe block: s3rver, the S3 recorder in front of it (answering some requests
 * itself, or holding them), and a server whose store is S3 through that proxy.
 */
function serverOnProxiedS3(env: Record<string, string>, intercept?: S3Intercept, delay?: S3Delay): { server: TestServer } {
  const the = {} as { server: TestServer };
  let s3: S3rverHandle | undefined;
  let proxy: S3Recorder | undefined;
  before(async function () {
    this.timeout(30_000);
    s3 = await startS3rver();
    proxy = await startS3Recorder(s3.endpoint, intercept, delay);
    the.server = await startTestServer({ ...env, ...s3Settings(s3, proxy.endpoint) });
  });
  after(async () => {
    await the.server?.destroy();
    await proxy?.close();
    await s3?.stop();
  });
  return the;
}

describe('the live archive on a slow S3', function () {
  this.timeout(60_000);
  const the = serverOnProxiedS3(
    {
      LOG_SERVICE_STREAM_MAX_LINES: '1000',
      // A 1 MiB ring: without backpressure it trims what the stalled writer has not read.
      LOG_SERVICE_STREAM_MAX_BYTES: '1048576',
    },
    undefined,
    // Every write takes 500 ms: with 4 chunk writes in flight the archive takes ~2 MiB of line JSON a second.
    (req) => (req.method === 'PUT' ? 500 : 0),
  );

  it('slows the pushes to what the store takes instead of losing lines the ring let go (docs/ARCHIVE.md §6)', async () => {
    const url = `${the.server.url}/ci/p/slow-store/s/t/stream`;
    assert.equal((await fetch(url, { method: 'POST' })).status, 204);
    // ~9 MB of line JSON as fast as the pushes are answered: far past the writer's 4 MiB and the ring's 1 MiB.
    const lines = 60_000;
    for (let seq = 0; seq < lines; seq += PUSH_LINES) {
      const res = await fetch(url, { method: 'PUT', body: logText(seq, seq + PUSH_LINES), headers: { 'Content-Type': 'text/plain' } });
      assert.equal(res.status, 204);
    }
    const sse = await countSse(url);
    await sse.until(lines, 30_000);
    assert.deepEqual(sse.dropped, [], 'every acknowledged line is in the ring or the archive');
    assert.equal(sse.outOfOrder, undefined);
    assert.equal(sse.next, lines);
    sse.close();
    const total = Buffer.byteLength(logText(0, lines));
    const raw = await readRawBytes(`${the.server.url}/ci/p/slow-store/s/t/raw?offset=0`);
    await raw.until(total, 30_000);
    assert.ok(raw.bytes().equals(Buffer.from(logText(0, lines))), 'raw from 0 is the whole log');
    raw.close();
  });
});

describe('the live archive when one chunk write fails and the next ones succeed', function () {
  this.timeout(60_000);
  // The second chunk is refused with 503 while this holds; the writer retries it with a backoff.
  let refuseSecond = true;
  let refused = 0;
  let secondSeq: number | undefined;
  let laterWritten = false;
  /** [firstSeq, lines] of the chunk a request writes, or undefined for any other request. */
  function chunkOf(req: { method?: string; url?: string }): [number, number] | undefined {
    const m = req.method === 'PUT' ? /~\d{16}\/(\d{16})-(\d{8})-/.exec(decodeURIComponent(req.url ?? '')) : null;
    return m === null ? undefined : [Number(m[1]), Number(m[2])];
  }
  const the = serverOnProxiedS3(
    { LOG_SERVICE_STREAM_MAX_LINES: '1000' },
    (req, res) => {
      const chunk = chunkOf(req);
      if (chunk === undefined) return false;
      const [firstSeq, lines] = chunk;
      if (firstSeq === 0) secondSeq = lines;
      if (secondSeq !== undefined && firstSeq > secondSeq && refuseSecond) laterWritten = true;
      if (firstSeq !== secondSeq || !refuseSecond) return false;
      refused++;
      req.resume();
      res.writeHead(503, { 'Content-Type': 'application/xml' }).end('<Error><Code>SlowDown</Code><Message>test</Message></Error>');
      return true;
    },
    // The first chunk is written alone (the writer starts on the first sealed chunk) and slowly, so the
    // next write group holds several chunks: the second is refused while the ones after it are stored.
    (req) => (chunkOf(req)?.[0] === 0 ? 500 : 0),
  );

  it('snapshots every line while the archive has a hole where the failing chunk goes (docs/ARCHIVE.md §6)', async () => {
    const url = `${the.server.url}/ci/p/hole/s/t/stream`;
    assert.equal((await fetch(url, { method: 'POST' })).status, 204);
    // ~8 chunks of 256 KiB of line JSON.
    const lines = 12_000;
    for (let seq = 0; seq < lines; seq += PUSH_LINES) {
      const res = await fetch(url, { method: 'PUT', body: logText(seq, seq + PUSH_LINES), headers: { 'Content-Type': 'text/plain' } });
      assert.equal(res.status, 204);
    }
    // Three refusals (retries after 250 and 500 ms): the other chunks of its group are long stored by then.
    for (let waited = 0; refused < 3; waited += 50) {
      assert.ok(waited < 20_000, `the second chunk was refused ${refused} times only`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(laterWritten, 'a chunk after the refused one was written: the archive has a hole');
    const closed = await fetch(`${url}?snapshot=true`, { method: 'DELETE' });
    assert.equal(closed.status, 204, await closed.text());
    assert.ok(refuseSecond && refused >= 3);
    refuseSecond = false;
    const blob = await fetch(`${the.server.url}/ci/p/hole/s/t/blob`);
    assert.equal(blob.status, 200);
    const rows = (await blob.text())
      .trimEnd()
      .split('\n')
      .map((row) => JSON.parse(row) as { out: string });
    assert.equal(rows.length, lines, 'the snapshot holds every line');
    assert.equal(rows.map((r) => r.out).join(''), logText(0, lines));
  });
});
