// The live archive's chunk names and its behaviour when the blob store is full
// (docs/ARCHIVE.md §2, §6), on the memory backend and a blob store in memory
// that can be made to refuse writes.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { ArchivedLogStream } from '../../archive/archived-log-stream.ts';
import { ChunkArchive, seqAtOffset } from '../../archive/chunk-archive.ts';
import { chunkName, parseChunkName, type ChunkEntry } from '../../archive/chunk-format.ts';
import { ServiceError } from '../../foundation/errors.ts';
import type { BlobListEntry, BlobMeta, BlobStore } from '../../store/blob-store.ts';

import { MemoryLogStream } from '../../stream/memory-log-stream.ts';
import type { StoredLine } from '../../stream/log-stream.ts';
import { draftOf, encodeLines } from '../support/encode-lines.ts';

/** A blob store in a Map; `full` makes every put fail as a full disk does. */
class MapStore implements BlobStore {
  readonly kind = 'map';
  readonly blobs = new Map<string, Buffer>();
  full = false;
  failedPuts = 0;

  async put(name: string, body: Readable): Promise<BlobMeta> {
    const parts: Buffer[] = [];
    for await (const part of body as AsyncIterable<Buffer>) parts.push(part);
    if (this.full) {
      this.failedPuts++;
      throw new ServiceError('LOGSVC_STORAGE_FULL', 'the disk is full');
    }
    const data = Buffer.concat(parts);
    this.blobs.set(name, data);
    return this.meta(data);
  }

  async putBytes(name: string, bytes: Buffer): Promise<BlobMeta> {
    return this.put(name, Readable.from([bytes]));
  }

  async head(name: string): Promise<BlobMeta | null> {
    const data = this.blobs.get(name);
    return data === undefined ? null : this.meta(data);
  }

  async get(name: string): Promise<{ meta: BlobMeta; body: Readable } | null> {
    const data = this.blobs.get(name);
    if (data === undefined) return null;
    return { meta: this.meta(data), body: Readable.from([data]) };
  }

  async delete(name: string): Promise<boolean> {
    return this.blobs.delete(name);
  }

  async *list(prefix: string): AsyncIterable<BlobListEntry> {
    for (const name of [...this.blobs.keys()].sort()) if (name.startsWith(prefix)) yield { name, size: this.blobs.get(name)!.length };
  }

  async ping(): Promise<void> {}
  async close(): Promise<void> {}

  private meta(data: Buffer): BlobMeta {
    return { size: data.length, sha256: '', contentType: 'application/x-ndjson', created: new Date().toISOString(), etag: '""' };
  }
}

const limits = { maxLines: 100, maxBytes: 64 * 1024 * 1024, ttlSeconds: 600, maxLineBytes: 65536, closedGraceSeconds: 60 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readAll(stream: ArchivedLogStream, name: string): Promise<{ lines: StoredLine[]; dropped: { from: number; to: number }[] }> {
  const cursor = (await stream.cursor(name, { kind: 'beginning' }))!;
  const lines: StoredLine[] = [];
  const dropped: { from: number; to: number }[] = [];
  try {
    for (;;) {
      const batch = await cursor.read(2000, 256 * 1024);
      if (batch.dropped) dropped.push(batch.dropped);
      lines.push(...batch.lines);
      if (batch.end || (batch.lines.length === 0 && batch.dropped === undefined)) return { lines, dropped };
    }
  } finally {
    cursor.release();
  }
}

describe('live archive', () => {
  describe('chunk names', () => {
    it('name a chunk of one generation of one stream, and nothing else', () => {
      const blob = chunkName('acct/a/b', 1700000000000, 250, 100, 9000, 4000);
      assert.deepEqual(parseChunkName('acct/a/b', blob), { blob, gen: 1700000000000, firstSeq: 250, lines: 100, firstOffset: 9000, textBytes: 4000 });
      assert.ok(blob.startsWith('~archive/acct/a/b/~'));
      // A stream below this one (acct/a/b/~0001…) lists under the same prefix: its chunks are not this stream's.
      const below = chunkName('acct/a/b/~0001700000000000', 1700000000001, 0, 1, 0, 1);
      assert.equal(parseChunkName('acct/a/b', below), undefined);
      assert.equal(parseChunkName('acct/a/b', 'acct/a/b'), undefined);
    });

    it('cannot be produced by a user blob name, which starts with an accountID (no "~")', () => {
      assert.ok(!/^[A-Za-z0-9._:-]{1,128}$/.test('~archive'));
    });
  });

  describe('byte readers start at the chunk that holds their offset', function () {
    this.timeout(20_000);

    it('seqAtOffset finds the chunk by its first offset, and the seq after the last chunk past the end', () => {
      const entry = (firstSeq: number, lines: number, firstOffset: number, textBytes: number): ChunkEntry => ({
        blob: '',
        gen: 1,
        firstSeq,
        lines,
        firstOffset,
        textBytes,
      });
      const entries = [entry(0, 10, 0, 1000), entry(10, 5, 1000, 0), entry(15, 10, 1000, 500), entry(30, 10, 2000, 100)];
      assert.equal(seqAtOffset([], 123), 0);
      assert.equal(seqAtOffset(entries, 0), 0);
      assert.equal(seqAtOffset(entries, 999), 0);
      assert.equal(seqAtOffset(entries, 1000), 15, 'the chunk of empty lines at 1000 holds no byte of it');
      assert.equal(seqAtOffset(entries, 1499), 15);
      assert.equal(seqAtOffset(entries, 1500), 25, 'between chunks (a gap): after the one before');
      assert.equal(seqAtOffset(entries, 2050), 30);
      assert.equal(seqAtOffset(entries, 2100), 40, 'at or past the end: after the last chunk');
    });

    it("opens a live stream's cursor at that chunk, for an offset and for the last N bytes, on a ring of 100 lines", async () => {
      const store = new MapStore();
      const stream = new ArchivedLogStream(new MemoryLogStream(limits), store, { closedGraceMs: 60_000 });
      try {
        await stream.open('a/offsets');
        // 6,000 lines of 100 bytes (600,000 bytes): several 256 KiB chunks, the ring keeps the last 100.
        for (let i = 0; i < 6000; i += 500) {
          await stream.push(
            'a/offsets',
            Array.from({ length: 500 }, (_, j) => ({ out: `${String(i + j).padStart(8, '0')} ${'x'.repeat(90)}\n` })),
          );
          await sleep(2);
        }
        await sleep(1500); // the last chunk is written after 1 s
        const chunks = [...store.blobs.keys()].filter((n) => n.startsWith('~archive/'));
        assert.ok(chunks.length >= 2, `${chunks.length} chunks`);
        for (const [offset, resolved] of [
          [450_000, 450_000],
          [-1000, 599_000],
        ] as const) {
          const opened = (await stream.cursorAtOffset('a/offsets', offset))!;
          assert.equal(opened.offset, resolved);
          const read: StoredLine[] = [];
          for (let i = 0; i < 10 && !read.some((l) => l.offset <= resolved && resolved < l.offset + l.textBytes); i++) {
            const batch = await opened.cursor.read(2000, 4 * 1024 * 1024);
            assert.equal(batch.dropped, undefined);
            read.push(...batch.lines);
          }
          opened.cursor.release();
          const first = read[0]!;
          assert.ok(first.seq > 0 && first.offset <= resolved, `starts at seq ${first.seq}, byte ${first.offset}, not at 0`);
          assert.ok(resolved - first.offset < 300_000, `within a chunk of the offset (from byte ${first.offset})`);
          assert.ok(
            read.some((l) => l.offset <= resolved && resolved < l.offset + l.textBytes),
            'reaches the byte',
          );
        }
      } finally {
        await stream.shutdown();
      }
    });
  });

  describe('readers of the archive', () => {
    it('read within one chunk, and share each slice of it that their own end did not cut', async () => {
      const archive = new ChunkArchive(new MapStore());
      const line = (i: number) => ({ out: `${String(i).padStart(8, '0')} line\n` });
      const first = encodeLines(
        0,
        0,
        Array.from({ length: 10 }, (_, i) => line(i)),
        1024,
        '2026-01-01T00:00:00.000Z',
      );
      const second = encodeLines(
        10,
        140,
        Array.from({ length: 10 }, (_, i) => line(10 + i)),
        1024,
        '2026-01-01T00:00:00.000Z',
      );
      await archive.write('a/s', 1, draftOf(first));
      await archive.write('a/s', 1, draftOf(second));
      const read = (seq: number, toSeq = 19, maxLines = 100) => archive.read('a/s', 1, seq, toSeq, maxLines, 1 << 20);
      const fromFive = (await read(5)).lines;
      assert.deepEqual(
        fromFive.map((l) => l.seq),
        [5, 6, 7, 8, 9],
        'to the end of its chunk, not into the next',
      );
      assert.equal((await read(5)).lines, fromFive, 'the next reader from seq 5 gets the same slice');
      const cut = (await read(5, 7)).lines;
      assert.deepEqual(
        cut.map((l) => l.seq),
        [5, 6, 7],
      );
      assert.equal((await read(5)).lines, fromFive, "a slice cut by a reader's own end is its own");
      assert.deepEqual(
        (await read(10, 19, 4)).lines.map((l) => l.seq),
        [10, 11, 12, 13],
      );
      assert.notEqual((await read(10, 19, 100)).lines, (await read(10, 19, 4)).lines, 'other bounds, another slice');
    });
  });

  describe('the finished log', function () {
    this.timeout(20_000);

    it('is the archived chunks as stored, then the lines not archived yet, with the same bytes as the lines make', async () => {
      const store = new MapStore();
      const stream = new ArchivedLogStream(new MemoryLogStream(limits), store, { closedGraceMs: 60_000 });
      try {
        await stream.open('a/final');
        const push = (from: number, n: number) =>
          stream.push(
            'a/final',
            Array.from({ length: n }, (_, j) => ({ out: `${String(from + j).padStart(8, '0')} ${'y'.repeat(90)}\n` })),
          );
        for (let i = 0; i < 6000; i += 500) {
          await push(i, 500);
          await sleep(2);
        }
        await sleep(1500); // every line is in a chunk now
        await push(6000, 50); // and these are not yet
        const chunks = [...store.blobs].filter(([name]) => name.startsWith('~archive/')).map(([, body]) => body);
        assert.ok(chunks.length >= 2);
        const pieces = [];
        for await (const piece of stream.snapshotRows('a/final')) pieces.push(piece);
        // The chunks, byte for byte and in order, then the 50 newest lines.
        pieces.slice(0, chunks.length).forEach((piece, i) => assert.ok(piece.rows.equals(chunks[i]!), `piece ${i} is chunk ${i} as stored`));
        assert.equal(pieces.at(-1)!.firstSeq + pieces.at(-1)!.lines, 6050);
        let seq = 0;
        for (const piece of pieces) {
          assert.equal(piece.firstSeq, seq, 'consecutive');
          assert.equal(piece.rows.toString('utf8').split('\n').length - 1, piece.lines);
          seq += piece.lines;
        }
        const all: Buffer[] = [];
        for await (const line of stream.lines('a/final'))
          all.push(Buffer.from(`${JSON.stringify(JSON.parse(line.event.subarray(line.jsonStart, line.event.length - 2).toString()))}\n`));
        assert.ok(Buffer.concat(pieces.map((p) => p.rows)).equals(Buffer.concat(all)), 'the same rows as the lines make');
      } finally {
        await stream.shutdown();
      }
    });
  });

  describe('a full blob store', function () {
    this.timeout(20_000);

    it('neither throws nor touches the ring; the archive catches up, and what it could not keep is reported dropped', async () => {
      const store = new MapStore();
      const errors: unknown[] = [];
      // A ring of 1 MiB: it holds the lines its archive writer has not read up to that bound, not past it.
      const stream = new ArchivedLogStream(new MemoryLogStream({ ...limits, maxBytes: 1024 * 1024 }), store, {
        closedGraceMs: 60_000,
        onError: (err) => errors.push(err),
      });
      try {
        await stream.open('a/full');
        store.full = true;
        // 1,500 lines of 4 KiB: 6 MB, more than a writer holds unwritten (4 MiB) plus the ring's 1 MiB.
        const big = 'f'.repeat(4000);
        for (let i = 0; i < 1500; i += 50) {
          await stream.push(
            'a/full',
            Array.from({ length: 50 }, (_, j) => ({ out: `${i + j} ${big}\n` })),
          );
          await sleep(5);
        }
        await sleep(600);
        assert.ok(store.failedPuts > 0, 'the writes failed');
        assert.ok(errors.length > 0, 'and were reported');
        // Every acknowledged line the ring holds is still there.
        const tail = (await stream.cursor('a/full', { kind: 'tail', lines: 100 }))!;
        const held = await tail.read(100, 64 * 1024 * 1024);
        tail.release();
        assert.deepEqual(
          held.lines.map((l) => l.seq),
          Array.from({ length: 100 }, (_, i) => 1400 + i),
        );
        store.full = false;
        await sleep(2500); // the next retry (backoff ≤ 2 s) writes the queue
        const { lines, dropped } = await readAll(stream, 'a/full');
        // Every seq is a line or inside a dropped range, once, in order; some were kept through the outage.
        const seen: number[] = [];
        for (const line of lines) seen.push(line.seq);
        for (const range of dropped) for (let s = range.from; s <= range.to; s++) seen.push(s);
        assert.deepEqual(
          seen.sort((x, y) => x - y),
          Array.from({ length: 1500 }, (_, i) => i),
        );
        assert.ok(dropped.length > 0, 'the gap is reported');
        assert.ok(lines.length > 900, `the archive kept ${lines.length} lines through the outage`);
        assert.ok(
          lines.every((l, i) => i === 0 || l.seq > lines[i - 1]!.seq),
          'in order',
        );
      } finally {
        await stream.shutdown();
      }
    });
  });

  describe('a graceful stop', () => {
    // The archiver stops before its backend, as on Redis (ArchivedLogStream.shutdown): the
    // streams are still open, so only the stop can end the writers' waits.
    it("ends the writers' waits at once: what they hold is written within moments, not at its due time", async () => {
      const store = new MapStore();
      const stream = new ArchivedLogStream(new MemoryLogStream(limits), store, { closedGraceMs: 60_000 });
      try {
        await stream.open('a/idle');
        await stream.push('a/idle', [{ out: 'one\n' }, { out: 'two\n' }]);
        await stream.open('a/quiet');
        // One writer has read both lines and waits for its chunk's due time (1 s after the first
        // line); the other has nothing and waits for its lease renewal (3 s).
        await sleep(100);
        assert.equal(store.blobs.size, 0, 'nothing written yet');
        const started = performance.now();
        await stream.archiver.shutdown();
        const took = performance.now() - started;
        assert.equal(store.blobs.size, 1, 'the chunk it held is written');
        // Without the stop's wake: ~2.9 s (the renewal). A loaded machine may take a while for the rest.
        assert.ok(took < 1500, `stopped after ${took.toFixed(0)} ms, not at a due time`);
      } finally {
        await stream.shutdown();
      }
    });
  });
});
