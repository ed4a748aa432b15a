// Raw log text with resume by byte offset (livelog / tail -f style).
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from './support/in-process-server.ts';
import { openRaw } from './support/raw-reader.ts';

/**
 * A push of 25,002 lines: it keeps its newest 25,000 (handler/push-handler.ts), so its first two
 * lines, "1\n2\n" (bytes 0-3), are never stored and the log's first held byte is byte 4.
 */
const KEPT = 'z\n'.repeat(25_000);
const GAP_THEN_KEPT = `1\n2\n${KEPT}`;

describe('raw log text by byte offset', function () {
  this.timeout(20000);
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ LOG_SERVICE_STREAM_MAX_LINES: '5', LOG_SERVICE_STREAM_CLOSED_GRACE_SECONDS: '0' });
  });
  after(async () => server.destroy());
  const ci = (id: string, path: string) => `${server.url}/ci/p/${id}/s/t/${path}`;
  const push = (id: string, text: string) => fetch(ci(id, 'stream'), { method: 'PUT', body: text, headers: { 'Content-Type': 'text/plain' } });

  it('streams the text from a byte offset, follows it live, and ends when the stream closes', async () => {
    await fetch(ci('r1', 'stream'), { method: 'POST' });
    await push('r1', 'hello\nworld\n');
    const raw = await openRaw(`${ci('r1', 'raw')}?offset=3`);
    assert.equal(raw.status, 200);
    assert.equal(raw.offset, '3');
    await raw.until((t) => t === 'lo\nworld\n');
    await push('r1', 'more é\n');
    await raw.until((t) => t === 'lo\nworld\nmore é\n');
    await fetch(ci('r1', 'stream'), { method: 'DELETE' });
    await raw.ended();
    assert.equal(raw.text(), 'lo\nworld\nmore é\n');
  });

  it('counts bytes, not characters, of JSON pushes that write non-ASCII text as \\u escapes (kept as sent)', async () => {
    await fetch(ci('esc', 'stream'), { method: 'POST' });
    // ASCII bodies, as Python's json.dumps writes them: `é` is `\u00e9`, `中` is `\u4e2d`, 😀 a surrogate pair.
    for (const body of ['[{"out":"caf\\u00e9\\n"},{"out":"\\u4e2d \\ud83d\\ude00\\n"}]', '[{"out":"next\\n"}]']) {
      const res = await fetch(ci('esc', 'stream'), { method: 'PUT', body, headers: { 'Content-Type': 'application/json' } });
      assert.equal(res.status, 204);
    }
    const text = 'café\n中 😀\nnext\n';
    const whole = await openRaw(`${ci('esc', 'raw')}?offset=0`);
    await whole.until((t) => t === text);
    whole.close();
    // The second push starts at the bytes of the first: 6 + 9.
    const second = await openRaw(`${ci('esc', 'raw')}?offset=15`);
    assert.equal(second.offset, '15');
    await second.until((t) => t === 'next\n');
    second.close();
    await fetch(ci('esc', 'stream'), { method: 'DELETE' });
  });

  it('resumes at offset + bytes received with no gap and no duplicate, like tail -f after a cut', async () => {
    await fetch(ci('r2', 'stream'), { method: 'POST' });
    await push('r2', 'abc\ndef\n');
    const first = await openRaw(ci('r2', 'raw'));
    await first.until((t) => t.length === 8);
    first.close();
    await push('r2', 'ghi\n');
    const second = await openRaw(`${ci('r2', 'raw')}?offset=${Buffer.byteLength(first.text())}`);
    await second.until((t) => t === 'ghi\n');
    second.close();
  });

  it('serves the last N bytes with a negative offset', async () => {
    await fetch(ci('r3', 'stream'), { method: 'POST' });
    await push('r3', 'one\ntwo\nthree\n');
    const raw = await openRaw(`${ci('r3', 'raw')}?offset=-6`);
    assert.equal(raw.offset, '8');
    await raw.until((t) => t === 'three\n');
    raw.close();
  });

  it('starts at the oldest retained byte when the requested bytes are gone, and says so in X-Log-Offset', async () => {
    await fetch(ci('r4', 'stream'), { method: 'POST' });
    await push('r4', GAP_THEN_KEPT); // the push keeps its newest 25,000 lines: the kept bytes start at byte 4
    const raw = await openRaw(`${ci('r4', 'raw')}?offset=0`);
    assert.equal(raw.offset, '4');
    await raw.until((t) => t === KEPT);
    raw.close();
  });

  it('serves an offset past a gap in the middle of the log, not an empty answer (a resume after the gap)', async () => {
    await fetch(ci('r4b', 'stream'), { method: 'POST' });
    await push('r4b', 'a\n'); // bytes 0-1, archived
    await push('r4b', GAP_THEN_KEPT); // "1\n2\n" (bytes 2-5) never stored: a gap between "a\n" and the kept lines
    const raw = await openRaw(`${ci('r4b', 'raw')}?offset=10`);
    assert.equal(raw.offset, '10');
    await raw.until((t) => t === KEPT.slice(4));
    raw.close();
  });

  it('serves a finished log from its snapshot blob by offset, including the Harness route', async () => {
    await fetch(ci('r5', 'stream'), { method: 'POST' });
    await push('r5', 'alpha\nbeta\n');
    await fetch(`${ci('r5', 'stream')}?snapshot=true`, { method: 'DELETE' });
    await new Promise((r) => setTimeout(r, 1200)); // past the 0 s grace, swept each second
    const raw = await openRaw(`${ci('r5', 'raw')}?offset=2`);
    await raw.ended();
    assert.equal(raw.text(), 'pha\nbeta\n');
    const tail = await openRaw(`${server.url}/stream/raw?accountID=default&key=p/r5/s/t&offset=-5`);
    await tail.ended();
    assert.deepEqual([tail.offset, tail.text()], ['6', 'beta\n']);
  });

  it('keeps the live byte offsets of a trimmed stream when serving its snapshot', async () => {
    await fetch(ci('r6', 'stream'), { method: 'POST' });
    await push('r6', GAP_THEN_KEPT); // the snapshot starts at the first kept line, byte 4
    await fetch(`${ci('r6', 'stream')}?snapshot=true`, { method: 'DELETE' });
    await new Promise((r) => setTimeout(r, 1200));
    const from6 = await openRaw(`${ci('r6', 'raw')}?offset=6`);
    await from6.ended();
    assert.deepEqual([from6.offset, from6.text()], ['6', KEPT.slice(2)]);
    const from0 = await openRaw(`${ci('r6', 'raw')}?offset=0`);
    await from0.ended();
    assert.deepEqual([from0.offset, from0.text()], ['4', KEPT], 'the jump over dropped bytes shows in X-Log-Offset');
  });

  it('releases a raw download of a blob when the reader goes away mid-body', async () => {
    const key = 'p/big/s/t';
    const big = Buffer.alloc(30 * 1024 * 1024, 'x\n');
    await fetch(`${server.url}/ci/${key}/blob`, { method: 'PUT', body: big });
    const before = server.services.context.tails.total();
    const readers = await Promise.all([1, 2, 3].map(() => openRaw(`${server.url}/ci/${key}/raw`)));
    for (const r of readers) r.close();
    const deadline = Date.now() + 5000;
    while (server.services.context.tails.total() > before) {
      assert.ok(Date.now() < deadline, `${server.services.context.tails.total() - before} raw downloads still counted as open`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  it('answers 404 when there is neither stream nor log, and 400 for a bad offset', async () => {
    assert.equal((await fetch(ci('none', 'raw'))).status, 404);
    const bad = await fetch(`${ci('r1', 'raw')}?offset=abc`);
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error_code: string }).error_code, 'LOGSVC_INVALID_PARAM');
  });
});
