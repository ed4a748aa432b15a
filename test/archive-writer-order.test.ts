// The archive writer's order of events against a slow store (docs/ARCHIVE.md §3, §4, §6),
// pinned down with a real LMDB store whose chunk writes and listings the test holds open
// (test/support/gated-blob-store.ts), a real MemoryLogStream and a real ArchivedLogStream:
//   * backpressure wakes the writer and the waiting pushes per group of chunk writes, once
//     the queue is back under its bound — not only when the whole queue is written, and
//     not while it is still over its bound;
//   * a reader that fell behind the ring gets the lines the writer holds unwritten from the
//     writer, without waiting for the archive;
//   * a listing of the archive keeps the chunks this process indexed while it ran (once).
// The module's bounds are used as they are: a chunk is 256 KiB of line JSON, the writer
// stops reading at 16 chunks unwritten and writes 4 chunks of a stream at once. Every line
// here has 1,024 bytes of line JSON (with its newline), so 256 lines fill a chunk exactly.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArchivedLogStream } from '../archive/archived-log-stream.ts';
import { generationPrefix } from '../archive/chunk-format.ts';
import { LmdbBlobStore } from '../store/lmdb-blob-store.ts';
import type { LineInput, StreamCursor, StreamLimits } from '../stream/log-stream.ts';
import { MemoryLogStream } from '../stream/memory-log-stream.ts';
import { within } from './support/bounded-wait.ts';
import { GatedBlobStore } from './support/gated-blob-store.ts';

const NAME = 'acct/order/s/t';
/** A ring of 100 lines; its byte bound is far above what a test pushes, so only the line bound (and the writer's hold) trims it. */
const LIMITS: StreamLimits = { maxLines: 100, maxBytes: 64 * 1024 * 1024, ttlSeconds: 600, maxLineBytes: 65536, closedGraceSeconds: 60 };
/** archive/archiver.ts: CHUNK_BYTES, MAX_PENDING_BYTES / CHUNK_BYTES, WRITES_PER_STREAM. */
const CHUNK_BYTES = 256 * 1024;
const QUEUE_CHUNKS = 16;
const GROUP = 4;
/** Bytes of line JSON of each line, with the newline a chunk adds: CHUNK_BYTES is a multiple of it. */
const LINE_BYTES = 1024;
const LINES_PER_CHUNK = CHUNK_BYTES / LINE_BYTES;
const TIME = '2026-01-01T00:00:00.000Z';
/** The longest a reader's read or an awaited state may take here. */
const WAIT_MS = 3000;

/** Line `seq` of the test log: a fixed `pos` width and `time`, so its JSON is LINE_BYTES - 1 bytes whatever `seq` is. */
function line(seq: number): LineInput {
  const pos = 1_000_000 + seq;
  const head = `${String(seq).padStart(8, '0')} `;
  const bare = JSON.stringify({ level: 'info', pos, out: `${head}\n`, time: TIME }).length;
  return { pos, time: TIME, out: `${head}${'x'.repeat(LINE_BYTES - 1 - bare)}\n` };
}

const lines = (from: number, to: number): LineInput[] => Array.from({ length: to - from }, (_, i) => line(from + i));

/** Enough turns of the event loop for every promise chain that does not wait for I/O to have run. */
async function turns(count = 5): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Whether `promise` has settled once everything runnable has run. */
async function hasSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await turns();
  return settled;
}

/** Polls a state that no event announces (the writer's counters), at most `ms`. */
async function until(what: string, test: () => boolean, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

interface Fixture {
  store: GatedBlobStore;
  stream: ArchivedLogStream;
  close(): Promise<void>;
}

/** An ArchivedLogStream over a MemoryLogStream and LMDB in a temp dir, its chunk writes held from the start. */
async function fixture(): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'logsvc-archive-order-'));
  const lmdb = new LmdbBlobStore(join(dir, 'db'));
  const store = new GatedBlobStore(lmdb);
  store.holdPuts();
  const stream = new ArchivedLogStream(new MemoryLogStream(LIMITS), store, { closedGraceMs: 60_000 });
  await stream.open(NAME);
  return {
    store,
    stream,
    async close() {
      store.openLists();
      store.openPuts();
      try {
        await stream.shutdown();
      } finally {
        await lmdb.close();
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

/** The chunk that starts at `firstSeq` (chunk names: archive/chunk-format.ts). */
const chunkStarting = (names: string[], firstSeq: number): boolean => names.some((name) => name.includes(`/${String(firstSeq).padStart(16, '0')}-`));

/**
 * Reads `cursor` until it has passed `lastSeq`: every line's seq and every dropped range.
 * Each read must answer within WAIT_MS (a read that waits for a held listing does not).
 */
async function readThrough(cursor: StreamCursor, lastSeq: number): Promise<{ seqs: number[]; dropped: { from: number; to: number }[] }> {
  const seqs: number[] = [];
  const dropped: { from: number; to: number }[] = [];
  while ((seqs.at(-1) ?? -1) < lastSeq && (dropped.at(-1)?.to ?? -1) < lastSeq) {
    const at = Math.max(seqs.at(-1) ?? -1, dropped.at(-1)?.to ?? -1) + 1;
    const batch = await within(cursor.read(2000, CHUNK_BYTES), WAIT_MS);
    assert.ok(batch !== undefined, `the reader got nothing at seq ${at} for ${WAIT_MS} ms: it waited for the (held) store`);
    if (batch.dropped !== undefined) dropped.push(batch.dropped);
    seqs.push(...batch.lines.map((l) => l.seq));
    assert.ok(batch.lines.length > 0 || batch.dropped !== undefined, `an empty read at seq ${at}`);
  }
  return { seqs, dropped };
}

/**
 * `chunks` chunks and 50 lines pushed with every chunk write held and the listings of the
 * stream's chunks held as asked; the writer has read them all (the ring keeps the last 100),
 * and a reader from seq 0 has fallen behind the ring.
 */
async function readerBehindTheRing(chunks: number): Promise<Fixture & { gen: number; index: string; total: number; reader: StreamCursor }> {
  const fixed = await fixture();
  const { store, stream } = fixed;
  const gen = (await stream.textState(NAME))!.generation;
  const index = generationPrefix(NAME, gen);
  store.holdLists('asked', index);
  const total = chunks * LINES_PER_CHUNK + 50;
  try {
    await stream.push(NAME, lines(0, total));
    await store.until('the first write', () => store.heldPutNames.length === 1);
    const writer = stream.archiver.writer(NAME)!;
    const reader = (await stream.cursor(NAME, { kind: 'beginning' }))!;
    await until('the writer reads every line', () => writer.pendingFrom(gen, total - 1, total - 1).length === 1);
    return { ...fixed, gen, index, total, reader };
  } catch (err) {
    await fixed.close();
    throw err;
  }
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

describe('the archive writer against a slow store (docs/ARCHIVE.md §3, §4, §6)', function () {
  this.timeout(10_000);

  it('wakes a waiting push once a group of chunk writes has brought the queue back under its bound: not before, not only at the end', async () => {
    const { store, stream, close } = await fixture();
    try {
      // Chunk 0: one short line, sealed after CHUNK_MS (1 s); its write is held, alone in its group.
      // Its few bytes are what lets a group end with the queue still over its bound.
      await stream.push(NAME, [{ pos: 0, time: TIME, out: 'first\n' }]);
      await store.until('the first chunk is written', () => store.heldPutNames.length === 1);
      // 21 chunks of lines. The writer reads 16 full chunks (chunk 0 + 15 full ones are under the
      // bound, chunk 0 + 16 are over it: a chunk ends at exactly 256 KiB) and stops; the rest waits
      // in the ring.
      await stream.push(NAME, lines(1, 1 + 21 * LINES_PER_CHUNK));
      const tail = (await stream.cursor(NAME, { kind: 'tail', lines: 1 }))!;
      const last = (await tail.read(1, CHUNK_BYTES)).lines[0]!;
      tail.release();
      assert.equal(last.eventBytes - last.jsonStart - 1, LINE_BYTES, 'the premise: a line is 1,024 bytes of a chunk');
      await until('the writer fills its queue', () => stream.archiver.sealedChunks === 1 + QUEUE_CHUNKS);
      await turns();
      assert.equal(stream.archiver.sealedChunks, 1 + QUEUE_CHUNKS, 'the writer stopped reading at its bound');

      // The queue is at its bound: a push waits.
      const waiting = stream.push(NAME, [line(1 + 21 * LINES_PER_CHUNK)]);
      assert.equal(await hasSettled(waiting), false, 'a push waits while the queue is at its bound');

      // Chunk 0's group ends, and the next group (chunks 1-4) goes out. The queue still holds 16
      // full chunks: over its bound, so neither the writer nor the push may go on.
      store.releasePuts();
      await store.until('the next group of writes', () => store.heldPutNames.length === GROUP);
      assert.ok(chunkStarting(store.heldPutNames, 1), `chunks 1-4 are written now: ${store.heldPutNames.join(', ')}`);
      assert.equal(await hasSettled(waiting), false, 'the push was woken while the queue was still over its bound');
      assert.equal(stream.archiver.sealedChunks, 1 + QUEUE_CHUNKS, 'the writer read on while the queue was still over its bound');

      // Chunks 1-4 written: 12 in the queue, under the bound. The push goes on and the writer reads
      // again (4 more chunks), while chunks 5-8 are still being written: woken per group, not once
      // the whole queue is written.
      store.releasePuts();
      const woken = await within(
        waiting.then(() => 'pushed'),
        WAIT_MS,
        'still waiting',
      );
      assert.equal(woken, 'pushed', 'the push was not woken when a group of writes brought the queue under its bound');
      await until('the writer reads again', () => stream.archiver.sealedChunks === 1 + QUEUE_CHUNKS + GROUP);
      assert.equal(store.heldPutNames.length, GROUP, 'chunks 5-8 are still being written');
      assert.ok(chunkStarting(store.heldPutNames, 1 + GROUP * LINES_PER_CHUNK), `chunks 5-8: ${store.heldPutNames.join(', ')}`);
      assert.equal(stream.archiver.chunksWritten, 1 + GROUP);
    } finally {
      await close();
    }
  });

  it('gives a reader that fell behind the ring the lines the writer has not written, from the writer, without waiting for the archive', async () => {
    // Neither the chunk writes nor a listing of the stream's chunks answer. 8 chunks and 50 lines:
    // chunk 0 is being written (held; the first group is the one chunk sealed when writing began),
    // 1-7 wait in the queue, 50 lines fill the next.
    const { store, close, index, total, reader } = await readerBehindTheRing(8);
    try {
      // A read of fewer lines than a chunk gets that many, from the seq asked, within the chunk.
      const few = await within(reader.read(10, CHUNK_BYTES), WAIT_MS);
      assert.deepEqual(
        few?.lines.map((l) => l.seq),
        range(0, 10),
      );
      // Chunk 0 from the writer's queue (its write is held).
      const first = await within(reader.read(2000, CHUNK_BYTES), WAIT_MS);
      assert.ok(first !== undefined, `the reader got nothing at seq 0 for ${WAIT_MS} ms: it waited for the (held) store`);
      assert.equal(first.dropped, undefined, 'no line the writer holds is reported dropped');
      assert.deepEqual(
        first.lines.map((l) => l.seq),
        range(10, LINES_PER_CHUNK),
      );
      // Between two reads chunk 0's write ends and chunks 1-4 go out: the reader goes on from the queue.
      store.releasePuts();
      await store.until('chunks 1-4 go out', () => store.heldPutNames.length === GROUP && chunkStarting(store.heldPutNames, LINES_PER_CHUNK));
      const { seqs, dropped } = await readThrough(reader, total - 1);
      assert.deepEqual(dropped, [], 'no line the writer holds is reported dropped');
      assert.deepEqual(seqs, range(LINES_PER_CHUNK, total), 'every line once, in order');
      assert.deepEqual(
        store.listed.filter((prefix) => prefix === index),
        [],
        'the archive was not asked for lines the writer holds',
      );
      assert.equal(store.putsAsked, 1 + GROUP, 'chunk 0 written, chunks 1-4 being written');
    } finally {
      reader.release();
      await close();
    }
  });

  it('keeps the chunks written while a listing of the archive ran: a reader gets them from the archive, and the index holds each chunk once', async () => {
    // Listings of the stream's chunks answer late, with what the store held when they were asked.
    // 13 chunks and 50 lines. Writes go out in groups of what is sealed when a group starts: chunk 0
    // alone (sealed first), then 1-4, 5-8, 9-12; the 50 lines are a 14th chunk after 1 s.
    const { store, stream, close, gen, index, total, reader } = await readerBehindTheRing(13);
    try {
      const group = (n: number) => () => store.heldPutNames.length === GROUP && chunkStarting(store.heldPutNames, (1 + (n - 1) * GROUP) * LINES_PER_CHUNK);

      // Chunk 0 is written (and gone from the queue once the next group goes out).
      store.releasePuts();
      await store.until('chunks 1-4 go out', group(1));
      // The reader fell behind the ring: chunk 0 is in the archive only. It lists the archive
      // (chunk 0 is all there is when it asks), and the listing hangs.
      const first = reader.read(2000, CHUNK_BYTES);
      await store.until('the reader lists the archive', () => store.heldListCount === 1);
      // Meanwhile chunks 1-4 are written, indexed and gone from the queue: the listing does not have them.
      store.releasePuts();
      await store.until('chunks 5-8 go out', group(2));
      store.releaseLists();
      const got = await within(first, WAIT_MS);
      assert.ok(got !== undefined, 'the listing answered: the read goes on');
      assert.equal(got.dropped, undefined);
      assert.equal(got.lines[0]?.seq, 0);

      // The rest of chunk 0 and chunks 1-4 from the archive, 5-13 from the writer, then the ring.
      // A second listing would hang (and fail the read): the index is complete without one.
      const rest = await readThrough(reader, total - 1);
      assert.deepEqual(rest.dropped, [], 'the chunks written while the listing ran were reported dropped');
      assert.deepEqual([...got.lines.map((l) => l.seq), ...rest.seqs], range(0, total), 'every line once, in order');
      assert.deepEqual(
        store.listed.filter((prefix) => prefix === index),
        [index],
        'one listing',
      );
      const indexed = await stream.archive.entries(NAME, gen);
      assert.deepEqual(
        indexed.map((e) => e.firstSeq),
        range(0, 5).map((i) => i * LINES_PER_CHUNK),
        'the index: chunks 0-4, once each',
      );

      // A listing that sees the chunks written while it ran (it reads the store when it answers)
      // holds them once; an entry the store no longer has (deleted by another instance) is not kept.
      await new Promise((resolve) => setTimeout(resolve, 250)); // RELIST_MS (200 ms): a listing is not repeated sooner
      await store.delete(indexed[0]!.blob);
      store.holdLists('released', index);
      const relisted = stream.archive.entries(NAME, gen, true);
      await store.until('the index is listed again', () => store.heldListCount === 1);
      store.releasePuts();
      await store.until('chunks 9-12 go out', group(3));
      store.releaseLists();
      const after = await within(relisted, WAIT_MS);
      assert.deepEqual(
        after?.map((e) => e.firstSeq),
        range(1, 9).map((i) => i * LINES_PER_CHUNK),
        'the index after the listing: chunks 1-8, once each',
      );
    } finally {
      reader.release();
      await close();
    }
  });
});
