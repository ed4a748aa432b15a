// The one LogStream contract (CONTRIBUTING.md, habit 4): every backend runs these cases unchanged.
import assert from 'node:assert/strict';
import { decodeLine } from '../../stream/line-codec.ts';
import type { LogStream, StoredLine, StreamCursor, StreamLimits } from '../../stream/log-stream.ts';
import { appendText } from '../../stream/text-append.ts';

interface LogStreamHarness {
  stream: LogStream;
  cleanup(): Promise<void>;
}

export type LogStreamFactory = (limits: StreamLimits) => Promise<LogStreamHarness>;

export const DEFAULT_TEST_LIMITS: StreamLimits = {
  maxLines: 1000,
  maxBytes: 4 * 1024 * 1024,
  ttlSeconds: 3600,
  maxLineBytes: 64 * 1024,
  closedGraceSeconds: 30,
};

let counter = 0;
/** A fresh stream name per test so backends that share a server never collide. */
export function uniqueName(label = 'acct'): string {
  return `${label}-${process.pid}-${Date.now().toString(36)}-${counter++}/proj/1/stage/step`;
}

/** Reads until `count` lines arrived (the stream stays open). */
async function readUntil(cursor: StreamCursor, count: number, limitMs = 5000): Promise<{ lines: StoredLine[]; dropped: { from: number; to: number }[] }> {
  const lines: StoredLine[] = [];
  const dropped: { from: number; to: number }[] = [];
  const deadline = Date.now() + limitMs;
  while (lines.length < count) {
    const batch = await cursor.read(100, 1 << 20);
    if (batch.dropped) dropped.push(batch.dropped);
    lines.push(...batch.lines);
    if (batch.lines.length === 0 && !batch.dropped) {
      if (Date.now() > deadline) throw new Error(`only ${lines.length} of ${count} lines arrived`);
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), 200);
      await cursor.waitForMore(ac.signal);
      clearTimeout(timer);
    }
  }
  return { lines, dropped };
}

async function readAll(cursor: StreamCursor, limitMs = 5000): Promise<{ lines: StoredLine[]; dropped: { from: number; to: number }[] }> {
  const lines: StoredLine[] = [];
  const dropped: { from: number; to: number }[] = [];
  const deadline = Date.now() + limitMs;
  for (;;) {
    const batch = await cursor.read(100, 1 << 20);
    if (batch.dropped) dropped.push(batch.dropped);
    lines.push(...batch.lines);
    if (batch.end) return { lines, dropped };
    if (batch.lines.length === 0) {
      if (Date.now() > deadline) throw new Error('stream did not end in time');
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), 200);
      await cursor.waitForMore(ac.signal);
      clearTimeout(timer);
    }
  }
}

const texts = (lines: readonly StoredLine[]) => lines.map((l) => decodeLine(l).out);
const seqs = (lines: readonly StoredLine[]) => lines.map((l) => l.seq);

export function logStreamContract(label: string, factory: LogStreamFactory): void {
  describe(`LogStream contract: ${label}`, function () {
    this.timeout(20000);
    const harnesses: LogStreamHarness[] = [];
    async function make(limits: Partial<StreamLimits> = {}): Promise<LogStream> {
      const h = await factory({ ...DEFAULT_TEST_LIMITS, ...limits });
      harnesses.push(h);
      return h.stream;
    }
    afterEach(async () => {
      while (harnesses.length > 0) await harnesses.pop()?.cleanup();
    });

    it('rejects a push to a stream that was never opened with LOGSVC_STREAM_NOT_FOUND', async () => {
      const s = await make();
      await assert.rejects(s.push(uniqueName(), [{ out: 'x\n' }]), { code: 'LOGSVC_STREAM_NOT_FOUND' });
    });

    it('opens idempotently and assigns consecutive seqs from 0 across pushes', async () => {
      const s = await make();
      const name = uniqueName();
      await s.open(name);
      await s.open(name);
      assert.equal(await s.exists(name), true);
      assert.equal(await s.push(name, [{ out: 'a\n' }, { out: 'b\n' }]), 0);
      assert.equal(await s.push(name, [{ out: 'c\n' }]), 2);
      await s.close(name);
      const cursor = await s.cursor(name, { kind: 'beginning' });
      assert.ok(cursor);
      const { lines } = await readAll(cursor);
      assert.deepEqual(seqs(lines), [0, 1, 2]);
      assert.deepEqual(texts(lines), ['a\n', 'b\n', 'c\n']);
    });

    it('fills in level, pos and time and keeps what the producer gave', async () => {
      const s = await make();
      const name = uniqueName();
      await s.open(name);
      await s.push(name, [{ out: 'one\n' }, { out: 'two\n', level: 'error', pos: 41, time: '2026-01-02T03:04:05Z', args: { k: 'v' } }]);
      const cursor = await s.cursor(name, { kind: 'beginning' });
      const batch = await cursor!.read(10, 1 << 20);
      const [first, second] = batch.lines.map(decodeLine);
      assert.equal(first?.level, 'info');
      assert.equal(first?.pos, 0);
      assert.ok(first && !Number.isNaN(Date.parse(first.time)));
      assert.deepEqual(second, { level: 'error', pos: 41, out: 'two\n', time: '2026-01-02T03:04:05Z', args: { k: 'v' } });
      cursor!.release();
    });

    it('encodes each line as an SSE event with its seq as id', async () => {
      const s = await make();
      const name = uniqueName();
      await s.open(name);
      await s.push(name, [{ out: 'hello\n' }]);
      const cursor = await s.cursor(name, { kind: 'beginning' });
      const [line] = (await cursor!.read(10, 1 << 20)).lines;
      const text = line!.event.toString('utf8');
      assert.match(text, /^id: 0\ndata: \{.*"out":"hello\\n".*\}\n\n$/);
      cursor!.release();
    });

    it('tracks the byte offset of each line in the log text', async () => {
      const s = await make();
      const name = uniqueName();
      await s.open(name);
      await s.push(name, [{ out: 'ab\n' }, { out: 'é\n' }, { out: 'x' }]);
      const cursor = (await s.cursor(name, { kind: 'beginning' }))!;
      const { lines } = await cursor.read(10, 1 << 20);
      assert.deepEqual(
        lines.map((l) => [l.offset, l.textBytes]),
        [
          [0, 3],
          [3, 3],
          [6, 1],
        ],
      );
      cursor.release();
    });

    it('starts a cursor after a given seq, and at the last N lines', async () => {
      const s = await make();
      const name = uniqueName();
      await s.open(name);
      await s.push(
        name,
        Array.from({ length: 10 }, (_, i) => ({ out: `${i}\n` })),
      );
      const after = await s.cursor(name, { kind: 'after', seq: 6 });
      assert.equal(after!.position, 7);
      assert.deepEqual(seqs((await after!.read(100, 1 << 20)).lines), [7, 8, 9]);
      const tail = await s.cursor(name, { kind: 'tail', lines: 2 });
      assert.deepEqual(seqs((await tail!.read(100, 1 << 20)).lines), [8, 9]);
      const tooMany = await s.cursor(name, { kind: 'tail', lines: 50 });
      assert.deepEqual(seqs((await tooMany!.read(100, 1 << 20)).lines), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const beyond = await s.cursor(name, { kind: 'after', seq: 1000 });
      assert.equal(beyond!.position, 0, 'a Last-Event-ID past the end is from an earlier stream: start this one from the beginning');
      const atEnd = await s.cursor(name, { kind: 'after', seq: 9 });
      assert.equal(atEnd!.position, 10, 'the last id waits for the next line');
      atEnd!.release();
      for (const c of [after, tail, tooMany, beyond]) c!.release();
    });

    it('reads in bounded batches', async () => {
      const s = await make();
      const name = uniqueName();
      await s.open(name);
      await s.push(
        name,
        Array.from({ length: 50 }, (_, i) => ({ out: `${i}\n` })),
      );
      const cursor = await s.cursor(name, { kind: 'beginning' });
      assert.equal((await cursor!.read(20, 1 << 20)).lines.length, 20);
      assert.equal(cursor!.position, 20);
      const small = await cursor!.read(100, 1);
      assert.equal(small.lines.length, 1, 'a byte budget smaller than one line still returns one line');
      cursor!.release();
    });

    it('keeps at most maxLines and reports what a viewer missed as a dropped range', async () => {
      const s = await make({ maxLines: 100 });
      const name = uniqueName();
      await s.open(name);
      for (let i = 0; i < 5; i++)
        await s.push(
          name,
          Array.from({ length: 100 }, (_, j) => ({ out: `${i * 100 + j}\n` })),
        );
      await s.close(name);
      const { lines, dropped } = await readAll((await s.cursor(name, { kind: 'beginning' }))!);
      assert.ok(lines.length >= 100 && lines.length <= 200, `kept ${lines.length} lines`);
      const first = lines[0]!.seq;
      assert.deepEqual(dropped, [{ from: 0, to: first - 1 }]);
      assert.deepEqual(
        seqs(lines),
        Array.from({ length: 500 - first }, (_, i) => first + i),
      );
    });

    it('keeps about maxBytes of lines', async () => {
      const s = await make({ maxBytes: 64 * 1024 });
      const name = uniqueName();
      await s.open(name);
      const big = 'x'.repeat(1000) + '\n';
      for (let i = 0; i < 10; i++)
        await s.push(
          name,
          Array.from({ length: 50 }, () => ({ out: big })),
        );
      await s.close(name);
      const { lines, dropped } = await readAll((await s.cursor(name, { kind: 'beginning' }))!);
      const bytes = lines.reduce((n, l) => n + l.event.length, 0);
      assert.ok(bytes <= 2 * 64 * 1024, `retained ${bytes} bytes`);
      assert.equal(dropped.length, 1);
      assert.equal(lines[lines.length - 1]!.seq, 499);
    });

    it('truncates a line over maxLineBytes on a UTF-8 boundary with a visible marker', async () => {
      const s = await make({ maxLineBytes: 100 });
      const name = uniqueName();
      await s.open(name);
      await s.push(name, [{ out: 'é'.repeat(200) + '\n' }]);
      const cursor = await s.cursor(name, { kind: 'beginning' });
      const line = decodeLine((await cursor!.read(1, 1 << 20)).lines[0]!);
      // 100 bytes in all: the marker (33 bytes) and the newline take their share.
      assert.ok(line.out.startsWith('é'.repeat(31)));
      assert.match(line.out, /truncated\]\n$/);
      assert.ok(!line.out.includes('\uFFFD'), 'no broken character');
      assert.ok(Buffer.byteLength(line.out) <= 100, `${Buffer.byteLength(line.out)} bytes`);
      cursor!.release();
    });

    it('wakes a waiting viewer when lines arrive and when the stream closes', async () => {
      const s = await make();
      const name = uniqueName();
      await s.open(name);
      const cursor = (await s.cursor(name, { kind: 'beginning' }))!;
      const ac = new AbortController();
      const waiting = cursor.waitForMore(ac.signal);
      await s.push(name, [{ out: 'x\n' }]);
      await waiting;
      assert.deepEqual(texts((await cursor.read(10, 1 << 20)).lines), ['x\n']);
      const waitingForClose = cursor.waitForMore(ac.signal);
      await s.close(name);
      await waitingForClose;
      const last = await cursor.read(10, 1 << 20);
      assert.equal(last.end, true);
      cursor.release();
    });

    it('ends a wait when its signal aborts', async () => {
      const s = await make();
      const name = uniqueName();
      await s.open(name);
      const cursor = (await s.cursor(name, { kind: 'beginning' }))!;
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 50);
      await cursor.waitForMore(ac.signal);
      assert.equal(ac.signal.aborted, true);
      cursor.release();
    });

    it('appends a push that skipped its older lines after a gap: seqs and text offsets jump by them, readers see them as dropped', async () => {
      const s = await make();
      const name = uniqueName();
      await s.open(name);
      await s.push(name, [{ out: 'a\n' }, { out: 'b\n' }]);
      const first = await s.push(name, [{ out: 'kept 1\n' }, { out: 'kept 2\n' }], { skipped: { lines: 5, textBytes: 20 } });
      assert.equal(first, 7, 'the kept lines come after the 5 skipped seqs');
      const viewer = (await s.cursor(name, { kind: 'beginning' }))!;
      const { lines, dropped } = await readUntil(viewer, 2);
      assert.deepEqual(dropped, [{ from: 0, to: 6 }], 'the older lines and the skipped ones are one dropped range');
      assert.deepEqual(
        lines.map((l) => [l.seq, l.offset, decodeLine(l).out]),
        [
          [7, 24, 'kept 1\n'],
          [8, 31, 'kept 2\n'],
        ],
      );
      assert.equal(await s.push(name, [{ out: 'next\n' }]), 9);
      const info = (await s.info(name)).get(name);
      assert.deepEqual([info?.size, info?.held], [10, 3], 'info counts every seq, and holds only the lines after the gap');
      viewer.release();
    });

    it('stores a batch retried with the same push id once, and answers the first seq it got', async () => {
      const s = await make();
      const name = uniqueName();
      await s.open(name);
      assert.equal(await s.push(name, [{ out: 'a\n' }, { out: 'b\n' }], { pushId: 'batch-1' }), 0);
      assert.equal(await s.push(name, [{ out: 'a\n' }, { out: 'b\n' }], { pushId: 'batch-1' }), 0, 'the retry is answered, not stored');
      assert.equal(await s.push(name, [{ out: 'c\n' }], { pushId: 'batch-2' }), 2);
      assert.equal(await s.push(name, [{ out: 'd\n' }]), 3, 'a push without an id is always stored');
      const viewer = (await s.cursor(name, { kind: 'beginning' }))!;
      assert.deepEqual(texts((await readUntil(viewer, 4)).lines), ['a\n', 'b\n', 'c\n', 'd\n']);
      viewer.release();
      await s.open(name);
      assert.equal(await s.push(name, [{ out: 'again\n' }], { pushId: 'batch-1' }), 0, 'a stream opened again starts with no ids taken');
    });

    it('opening an open stream starts it again, empty at seq 0, and its viewers go on with the new lines after a restart', async () => {
      const s = await make();
      const name = uniqueName();
      await s.open(name);
      await s.push(name, [{ out: 'run 1, a\n' }, { out: 'run 1, b\n' }]);
      const viewer = (await s.cursor(name, { kind: 'beginning' }))!;
      assert.deepEqual(texts((await viewer.read(10, 1 << 20)).lines), ['run 1, a\n', 'run 1, b\n']);
      const ac = new AbortController();
      const woken = viewer.waitForMore(ac.signal);
      await s.open(name);
      assert.equal(await s.exists(name), true);
      assert.equal(await s.push(name, [{ out: 'run 2\n' }]), 0, 'the new run starts at seq 0');
      const timer = setTimeout(() => ac.abort(), 5000);
      await woken;
      clearTimeout(timer);
      assert.equal(ac.signal.aborted, false, 'the reopen woke the waiting viewer');
      let batch = await viewer.read(10, 1 << 20);
      assert.equal(batch.restart, 0, 'the viewer is told the stream started again');
      const seen = texts(batch.lines);
      for (let i = 0; i < 50 && seen.length < 1; i++) {
        const wait = new AbortController();
        const t = setTimeout(() => wait.abort(), 100);
        await viewer.waitForMore(wait.signal);
        clearTimeout(t);
        batch = await viewer.read(10, 1 << 20);
        assert.equal(batch.restart, undefined, 'one restart, not one per read');
        seen.push(...texts(batch.lines));
      }
      assert.deepEqual(seen, ['run 2\n'], 'only the new run, none of the old lines');
      const fresh = (await s.cursor(name, { kind: 'beginning' }))!;
      assert.deepEqual(texts((await fresh.read(10, 1 << 20)).lines), ['run 2\n']);
      const snapshot: string[] = [];
      for await (const line of s.lines(name)) snapshot.push(decodeLine(line).out);
      assert.deepEqual(snapshot, ['run 2\n']);
      const info = await s.info('');
      assert.equal(info.get(name)?.size, 1);
      assert.equal(info.get(name)?.held, 1);
      viewer.release();
      fresh.release();
    });

    it('keepOpen opens a stream that is not open and leaves an open one as it is, whatever the concurrency', async () => {
      const s = await make();
      const name = uniqueName();
      await s.open(name, { keepOpen: true });
      assert.equal(await s.push(name, [{ out: 'first\n' }]), 0);
      // Every producer that opens on its first line races the others: none of them empties the stream.
      await Promise.all(Array.from({ length: 8 }, () => s.open(name, { keepOpen: true }).then(() => s.push(name, [{ out: 'more\n' }]))));
      const snapshot: string[] = [];
      for await (const line of s.lines(name)) snapshot.push(decodeLine(line).out);
      assert.deepEqual(snapshot, ['first\n', ...Array<string>(8).fill('more\n')]);
      await s.close(name);
      await s.open(name, { keepOpen: true });
      assert.equal(await s.push(name, [{ out: 'next run\n' }]), 0, 'a closed stream is opened again, from seq 0');
    });

    it('after close refuses pushes, lets viewers drain, then ends; reopening starts at seq 0', async () => {
      const s = await make();
      const name = uniqueName();
      await s.open(name);
      await s.push(name, [{ out: 'a\n' }, { out: 'b\n' }]);
      const viewer = (await s.cursor(name, { kind: 'beginning' }))!;
      assert.equal(await s.close(name), true);
      assert.equal(await s.close(name), false, 'closing twice reports nothing was open');
      assert.equal(await s.exists(name), false);
      await assert.rejects(s.push(name, [{ out: 'late\n' }]), { code: 'LOGSVC_STREAM_NOT_FOUND' });
      const drained = await readAll(viewer);
      assert.deepEqual(texts(drained.lines), ['a\n', 'b\n']);
      const late = await s.cursor(name, { kind: 'beginning' });
      assert.ok(late, 'a just-closed stream is still readable');
      assert.deepEqual(texts((await readAll(late)).lines), ['a\n', 'b\n']);
      const snapshot: string[] = [];
      for await (const line of s.lines(name)) snapshot.push(decodeLine(line).out);
      assert.deepEqual(snapshot, ['a\n', 'b\n']);
      await s.open(name);
      assert.equal(await s.push(name, [{ out: 'new\n' }]), 0);
    });

    it('forgets a closed stream after the grace period', async function () {
      const s = await make({ closedGraceSeconds: 1 });
      const name = uniqueName();
      await s.open(name);
      await s.push(name, [{ out: 'a\n' }]);
      await s.close(name);
      const deadline = Date.now() + 8000;
      while ((await s.cursor(name, { kind: 'beginning' })) !== null) {
        assert.ok(Date.now() < deadline, 'closed stream still readable after 8 s');
        await new Promise((r) => setTimeout(r, 200));
      }
    });

    it('expires an idle stream and keeps a written one alive', async function () {
      // Both get a 2 s expiry. The busy one is written every ~200 ms for 5 s,
      // past two of its expiries: it is alive at the end only if writes
      // refreshed the expiry. 2 s leaves room for a stalled event loop on a
      // loaded machine (ten missed ticks). The idle one must be gone before.
      this.timeout(9000);
      const s = await make({ ttlSeconds: 2 });
      const idle = uniqueName();
      const busy = uniqueName();
      await s.open(idle);
      const started = Date.now();
      await s.open(busy, { ttlSeconds: 2 });
      let idleGoneAfter: number | undefined;
      for (let ticks = 0; Date.now() - started < 5000; ticks++) {
        await assert.doesNotReject(s.push(busy, [{ out: `tick ${ticks}\n` }]), `a push to the busy stream failed after ${Date.now() - started} ms`);
        if (idleGoneAfter === undefined && !(await s.exists(idle))) idleGoneAfter = Date.now() - started;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(await s.exists(busy), true, `the busy stream expired although it was written every 200 ms for ${Date.now() - started} ms`);
      assert.ok(idleGoneAfter !== undefined, 'the idle stream did not expire within 5 s of a 2 s expiry');
      assert.ok(idleGoneAfter >= 1900, `the idle stream expired too early, after ${idleGoneAfter} ms`);
    });

    it('lists and describes only the streams under a prefix, with subscriber counts', async () => {
      const s = await make();
      const base = uniqueName().split('/')[0]!;
      await s.open(`${base}/a/1`);
      await s.open(`${base}/b/2`);
      await s.open(`${base}x/other`);
      await s.push(`${base}/a/1`, [{ out: '1\n' }, { out: '2\n' }]);
      const c1 = (await s.cursor(`${base}/a/1`, { kind: 'beginning' }))!;
      const c2 = (await s.cursor(`${base}/a/1`, { kind: 'tail', lines: 1 }))!;
      assert.deepEqual(await s.list(`${base}/`), [`${base}/a/1`, `${base}/b/2`]);
      const info = await s.info(`${base}/`);
      assert.deepEqual([...info.keys()].sort(), [`${base}/a/1`, `${base}/b/2`]);
      assert.equal(info.get(`${base}/a/1`)?.size, 2);
      assert.equal(info.get(`${base}/a/1`)?.subscribers, 2);
      assert.equal(info.get(`${base}/b/2`)?.subscribers, 0);
      assert.match(info.get(`${base}/a/1`)!.ttl, /^(\d+h)?(\d+m)?\d+s$/);
      c1.release();
      c1.release();
      c2.release();
      assert.equal((await s.info(`${base}/`)).get(`${base}/a/1`)?.subscribers, 0, 'release is idempotent');
    });

    it('serves 100 concurrent viewers every line in order while a producer pushes', async () => {
      const s = await make({ maxLines: 100000 });
      const name = uniqueName();
      await s.open(name);
      const viewers = await Promise.all(Array.from({ length: 100 }, () => s.cursor(name, { kind: 'beginning' })));
      const results = viewers.map((c) => readAll(c!, 15000));
      for (let i = 0; i < 20; i++) {
        await s.push(
          name,
          Array.from({ length: 100 }, (_, j) => ({ out: `${i * 100 + j}\n` })),
        );
        await new Promise((r) => setImmediate(r));
      }
      await s.close(name);
      for (const r of await Promise.all(results)) {
        assert.equal(r.lines.length, 2000);
        assert.deepEqual(r.dropped, []);
        assert.ok(r.lines.every((l, i) => l.seq === i));
      }
    });

    it('never blocks the producer on a viewer that stops reading; the viewer later sees a dropped range', async () => {
      const s = await make({ maxLines: 200 });
      const name = uniqueName();
      await s.open(name);
      const stuck = (await s.cursor(name, { kind: 'beginning' }))!;
      await s.push(name, [{ out: 'first\n' }]);
      assert.equal((await stuck.read(1, 1 << 20)).lines.length, 1);
      for (let i = 0; i < 50; i++)
        await s.push(
          name,
          Array.from({ length: 100 }, () => ({ out: 'y\n' })),
        );
      const batch = await stuck.read(10, 1 << 20);
      assert.ok(batch.dropped, 'the slow viewer is told what it missed');
      assert.equal(batch.dropped.from, 1);
      assert.equal(batch.lines[0]!.seq, batch.dropped.to + 1);
      stuck.release();
    });

    describe('byte appends (stream/text-append.ts)', () => {
      const text = async (s: LogStream, name: string) => {
        const cursor = (await s.cursor(name, { kind: 'beginning' }))!;
        const { lines } = await readAll(cursor);
        cursor.release();
        return lines.map((l) => decodeLine(l).out).join('');
      };

      it('turns bytes cut anywhere into whole lines, holds the partial last line, and makes it the last line at close', async () => {
        const s = await make();
        const name = uniqueName();
        await s.open(name);
        const log = 'alpha\nbeta\n\u00e9t\u00e9\ngamma without newline';
        const bytes = Buffer.from(log);
        let length = 0;
        // Cut inside a line and inside the two-byte é.
        for (const [a, b] of [
          [0, 3],
          [3, 14],
          [14, 15],
          [15, bytes.length],
        ] as const) {
          const result = await appendText(s, name, bytes.subarray(a, b), DEFAULT_TEST_LIMITS.maxLineBytes, length);
          assert.equal(result.appended, true);
          length = result.length;
          assert.equal(length, b);
        }
        const state = (await s.textState!(name))!;
        assert.equal(state.textEnd, Buffer.byteLength('alpha\nbeta\n\u00e9t\u00e9\n'));
        assert.equal(state.pending.toString(), 'gamma without newline');
        const cursor = (await s.cursor(name, { kind: 'beginning' }))!;
        assert.deepEqual(
          (await readUntil(cursor, 3)).lines.map((l) => decodeLine(l).out),
          ['alpha\n', 'beta\n', '\u00e9t\u00e9\n'],
        );
        cursor.release();
        await s.close(name);
        assert.equal(await text(s, name), log);
      });

      it('refuses an append at any offset but the length, storing nothing', async () => {
        const s = await make();
        const name = uniqueName();
        await s.open(name);
        await appendText(s, name, Buffer.from('one\ntw'), DEFAULT_TEST_LIMITS.maxLineBytes, 0);
        assert.deepEqual(await appendText(s, name, Buffer.from('x'), DEFAULT_TEST_LIMITS.maxLineBytes, 3), { appended: false, length: 6 });
        assert.deepEqual(await appendText(s, name, Buffer.from('x'), DEFAULT_TEST_LIMITS.maxLineBytes, 9), { appended: false, length: 6 });
        assert.deepEqual(await appendText(s, name, Buffer.from('o\n'), DEFAULT_TEST_LIMITS.maxLineBytes, 6), { appended: true, length: 8 });
        await s.close(name);
        assert.equal(await text(s, name), 'one\ntwo\n');
      });

      it('lets exactly one of many appends racing on one offset win', async () => {
        const s = await make();
        const name = uniqueName();
        await s.open(name);
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) => appendText(s, name, Buffer.from(`writer ${i}\n`), DEFAULT_TEST_LIMITS.maxLineBytes, 0)),
        );
        assert.equal(results.filter((r) => r.appended).length, 1);
        await s.close(name);
        assert.match(await text(s, name), /^writer \d\n$/);
      });

      it('cuts a line longer than the line limit into pieces on character boundaries, never truncating it', async () => {
        const s = await make({ maxLineBytes: 256 });
        const name = uniqueName();
        await s.open(name);
        const long = '\u20ac'.repeat(300) + '\n';
        await appendText(s, name, Buffer.from(long), 256);
        await s.close(name);
        const cursor = (await s.cursor(name, { kind: 'beginning' }))!;
        const { lines } = await readAll(cursor);
        cursor.release();
        assert.ok(lines.length > 1 && lines.every((l) => l.textBytes <= 256 && !decodeLine(l).out.includes('\ufffd')));
        assert.equal(lines.map((l) => decodeLine(l).out).join(''), long);
      });
    });
  });
}
