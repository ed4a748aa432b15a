// The ring becomes a cache (docs/ARCHIVE.md): a LogStream in front of the
// backend whose cursors read what the ring no longer holds from the archive.
// Every reader of a stream gets its cursor here — SSE, raw, gRPC, the TCP tail,
// and the snapshot written at close — so one place turns a `dropped` range
// into archived lines, and reports as dropped only what the archive does not
// have. Opening a stream starts its archive writer (archiver.ts); on Redis a
// push also checks, at most every few seconds, that someone holds the lease.
import {
  MAX_SCANNED_LINES,
  type CursorStart,
  type LineInput,
  type LogStream,
  type OffsetCursor,
  type OpenOptions,
  type PushOptions,
  type ReadBatch,
  type ScannedPush,
  type StoredLine,
  type StreamCursor,
  type StreamInfo,
  type StreamMemoryUsage,
  type TextState,
  type WaitSignal,
} from '../stream/log-stream.ts';
import { Archiver, type ArchiverOptions } from './archiver.ts';
import { ChunkArchive, seqAtOffset } from './chunk-archive.ts';
import { snapshotRowsOf, type ChunkEntry } from './chunk-format.ts';
import type { BlobStore } from '../store/blob-store.ts';
import { rowsOf, type SnapshotRows } from '../stream/snapshot-rows.ts';

/** A push of more lines is appended in slices of this many (see push); a scanned push has at most as many. */
const PUSH_SLICE_LINES = MAX_SCANNED_LINES;
/** The longest a push waits for a slow store's archive writer; past it the push goes on (a store this slow is failing). */
const ARCHIVE_WAIT_MS = 10_000;

/** Lines per read when the whole log is listed (a snapshot). */
const LIST_BATCH_LINES = 1000;
const LIST_BATCH_BYTES = 1024 * 1024;

/** The byte offset just past a chunk (0 for none). */
const endOffset = (entry: ChunkEntry | undefined): number => (entry === undefined ? 0 : entry.firstOffset + entry.textBytes);

class ArchivedCursor implements StreamCursor {
  /** Seqs still to be read from the archive, before `held`. */
  private fill: { from: number; to: number } | undefined;
  /** The inner cursor's batch after the gap the archive fills, sent once the gap is filled. */
  private held: ReadBatch | undefined;
  position: number;

  constructor(
    private readonly owner: ArchivedLogStream,
    private readonly name: string,
    private readonly inner: StreamCursor,
  ) {
    this.position = inner.position;
  }

  get generation(): number {
    return this.inner.generation;
  }

  async read(maxLines: number, maxBytes: number): Promise<ReadBatch> {
    if (this.fill === undefined && this.held === undefined) {
      const batch = await this.inner.read(maxLines, maxBytes);
      if (batch.dropped === undefined) {
        this.position = this.inner.position;
        return batch;
      }
      this.fill = { ...batch.dropped };
      this.held = { lines: batch.lines, end: batch.end };
      const out = await this.fromArchive(maxLines, maxBytes);
      if (batch.restart !== undefined) out.restart = batch.restart;
      return out;
    }
    return this.fromArchive(maxLines, maxBytes);
  }

  /** The next lines of the gap from the archive (or the writer's pending chunk); what neither has is reported dropped. */
  private async fromArchive(maxLines: number, maxBytes: number): Promise<ReadBatch> {
    const out: ReadBatch = { lines: [], end: false };
    const gen = this.inner.generation;
    while (this.fill !== undefined && out.lines.length === 0) {
      const fill = this.fill;
      const found = await this.owner.archived(this.name, gen, fill.from, fill.to, maxLines, maxBytes);
      if (found.lines.length > 0) {
        out.lines = found.lines;
        fill.from += found.lines.length;
      } else {
        // Not archived: lost (the archive fell behind the ring, or a crash). Up to where the archive goes on.
        const to = Math.min(fill.to, (found.next ?? Infinity) - 1);
        out.dropped = out.dropped === undefined ? { from: fill.from, to } : { from: out.dropped.from, to };
        fill.from = to + 1;
      }
      if (fill.from > fill.to) this.fill = undefined;
    }
    this.position = this.fill?.from ?? this.held?.lines[0]?.seq ?? this.inner.position;
    if (this.fill === undefined && this.held !== undefined && out.lines.length === 0) {
      // The gap is done: what the inner cursor read after it follows.
      const held = this.held;
      this.held = undefined;
      out.lines = held.lines;
      out.end = held.end;
      this.position = this.inner.position;
    }
    return out;
  }

  waitForMore(signal: WaitSignal): Promise<void> {
    if (this.fill !== undefined || this.held !== undefined) return Promise.resolve();
    return this.inner.waitForMore(signal);
  }

  release(): void {
    this.inner.release();
  }
}

/**
 * A stream the backend no longer has, read from its chunks alone: the log of
 * a process that crashed or stopped before the stream was closed (the memory
 * backend loses its streams with the process). It ends where the archive ends.
 */
class ArchiveOnlyCursor implements StreamCursor {
  constructor(
    private readonly owner: ArchivedLogStream,
    private readonly name: string,
    readonly generation: number,
    public position: number,
    private readonly endSeq: number,
  ) {}

  async read(maxLines: number, maxBytes: number): Promise<ReadBatch> {
    if (this.position >= this.endSeq) return { lines: [], end: true };
    const found = await this.owner.archived(this.name, this.generation, this.position, this.endSeq - 1, maxLines, maxBytes);
    if (found.lines.length > 0) {
      this.position += found.lines.length;
      return { lines: found.lines, end: this.position >= this.endSeq };
    }
    const to = Math.min(this.endSeq - 1, (found.next ?? Infinity) - 1);
    const dropped = { from: this.position, to };
    this.position = to + 1;
    return { lines: [], dropped, end: this.position >= this.endSeq };
  }

  async waitForMore(): Promise<void> {}

  release(): void {}
}

export class ArchivedLogStream implements LogStream {
  readonly archive: ChunkArchive;
  readonly archiver: Archiver;
  readonly memoryUsage?: () => StreamMemoryUsage;
  /** On the memory ring every line of a push is archived (CursorOptions.holdsLines); Redis trims a push to its own bounds. */
  readonly keepsWholePush: boolean;
  /** On the memory ring (LogStream.pushScanned): a scanned push, never sliced, with push's wait for the archive and its writer. */
  readonly pushScanned?: (name: string, push: ScannedPush, options?: PushOptions) => Promise<number>;

  constructor(
    private readonly inner: LogStream,
    store: BlobStore,
    options: ArchiverOptions,
  ) {
    this.archive = new ChunkArchive(store);
    this.archiver = new Archiver(inner, this.archive, options);
    if (inner.memoryUsage !== undefined) this.memoryUsage = () => inner.memoryUsage!();
    this.keepsWholePush = inner.archiveLease === undefined;
    if (inner.pushScanned !== undefined) this.pushScanned = (name, push, options) => this.pushScannedTo(name, push, options);
  }

  private async pushScannedTo(name: string, push: ScannedPush, options?: PushOptions): Promise<number> {
    await this.archiveRoom(name);
    const first = await this.inner.pushScanned!(name, push, options);
    this.keepWriting(name);
    return first;
  }

  /** After a push: a stream that has no writer here (it was opened elsewhere, or its writer stopped) gets one. */
  private keepWriting(name: string): void {
    if (this.archiver.writer(name) === undefined) void this.archiver.ensure(name);
  }

  async open(name: string, options?: OpenOptions): Promise<void> {
    await this.inner.open(name, options);
    await this.archiver.ensure(name, true);
  }

  async push(name: string, lines: LineInput[], options?: PushOptions): Promise<number> {
    let first: number;
    await this.archiveRoom(name);
    // A byte append (textGuard) is one atomic push: slices would let another appender in between.
    if (lines.length <= PUSH_SLICE_LINES || options?.textGuard !== undefined) first = await this.inner.push(name, lines, options);
    else {
      // A big push (up to 200,000 lines, handler/push-handler.ts) is appended in slices with a turn
      // of the event loop between them: other requests and the archive writer go on meanwhile.
      first = await this.inner.push(name, lines.slice(0, PUSH_SLICE_LINES), { ...options, asSent: undefined });
      for (let at = PUSH_SLICE_LINES; at < lines.length; at += PUSH_SLICE_LINES) {
        await new Promise((resolve) => setImmediate(resolve));
        await this.archiveRoom(name);
        await this.inner.push(name, lines.slice(at, at + PUSH_SLICE_LINES));
      }
    }
    this.keepWriting(name);
    return first;
  }

  /**
   * Backpressure from the archive (docs/ARCHIVE.md §6): while this process's
   * writer of `name` waits for a slow but working store, a push waits for its
   * write queue (at most ARCHIVE_WAIT_MS), instead of pushing lines the ring
   * would trim before the writer reads them.
   */
  private async archiveRoom(name: string): Promise<void> {
    const backlog = this.archiver.writer(name)?.backlog();
    if (backlog === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([backlog, new Promise<void>((resolve) => (timer = setTimeout(resolve, ARCHIVE_WAIT_MS)))]);
    clearTimeout(timer);
  }

  close(name: string): Promise<boolean> {
    return this.inner.close(name);
  }

  exists(name: string): Promise<boolean> {
    return this.inner.exists(name);
  }

  textState(name: string): Promise<TextState | null> {
    // Passed through, not awaited here: raw tails ask at every wake-up.
    return this.inner.textState?.(name) ?? Promise.resolve(null);
  }

  async cursor(name: string, start: CursorStart): Promise<StreamCursor | null> {
    const inner = await this.inner.cursor(name, start);
    if (inner !== null) return new ArchivedCursor(this, name, inner);
    return this.archiveOnly(name, start);
  }

  /**
   * A byte reader's cursor at the chunk holding `offset` (the index gives each
   * chunk's first offset), so a read deep into a long log does not walk it
   * from seq 0; a negative offset is resolved against the log's end now.
   */
  async cursorAtOffset(name: string, offset: number): Promise<OffsetCursor | null> {
    // A probe of the last line: a reader from the offset after it is then one pass, which keeps no line objects.
    const probe = await this.inner.cursor(name, { kind: 'tail', lines: offset < 0 ? 1 : 0 }, { passing: true });
    if (probe === null) return this.archiveOnlyAtOffset(name, offset);
    let resolved = offset;
    let seq: number;
    try {
      const entries = await this.archive.entries(name, probe.generation);
      if (resolved < 0) {
        const last = (await probe.read(1, Number.MAX_SAFE_INTEGER)).lines.at(-1);
        const end = last !== undefined ? last.offset + last.textBytes : endOffset(entries.at(-1));
        resolved = Math.max(0, end + offset);
      }
      seq = seqAtOffset(entries, resolved);
    } finally {
      probe.release();
    }
    const cursor = await this.cursor(name, seq === 0 ? { kind: 'beginning' } : { kind: 'after', seq: seq - 1 });
    return cursor === null ? null : { cursor, offset: resolved };
  }

  private async archiveOnlyAtOffset(name: string, offset: number): Promise<OffsetCursor | null> {
    const found = await this.archiveOnlyIndex(name);
    if (found === undefined) return null;
    const resolved = offset < 0 ? Math.max(0, endOffset(found.entries.at(-1)) + offset) : offset;
    const cursor = new ArchiveOnlyCursor(this, name, found.gen, seqAtOffset(found.entries, resolved), found.end);
    return { cursor, offset: resolved };
  }

  /** The latest generation's chunks of a stream the backend does not have, unless it was closed here (its chunks are going). */
  private async archiveOnly(name: string, start: CursorStart): Promise<StreamCursor | null> {
    const found = await this.archiveOnlyIndex(name);
    if (found === undefined) return null;
    const { gen, end } = found;
    let position = 0;
    if (start.kind === 'after') position = start.seq + 1 > end ? 0 : start.seq + 1;
    else if (start.kind === 'tail') position = Math.max(0, end - start.lines);
    return new ArchiveOnlyCursor(this, name, gen, position, end);
  }

  private async archiveOnlyIndex(name: string): Promise<{ gen: number; entries: ChunkEntry[]; end: number } | undefined> {
    const gen = (await this.archive.generations(name)).at(-1);
    if (gen === undefined || this.archiver.closedHere(name, gen)) return undefined;
    const entries = await this.archive.entries(name, gen, true);
    const last = entries.at(-1);
    if (last === undefined) return undefined;
    return { gen, entries, end: last.firstSeq + last.lines };
  }

  /** The whole log: the archive, then the ring (a snapshot of it is the whole log). */
  lines(name: string): AsyncIterable<StoredLine> {
    return this.linesFrom(name, 0);
  }

  /**
   * The whole log as snapshot rows: the current generation's chunks as they
   * are stored (a chunk's body is its lines' snapshot rows: copied, not
   * decoded), then, from the first line no chunk holds, the lines the writer
   * has not written yet and the ring's. A stream the backend no longer has is
   * read line by line from its chunks.
   */
  async *snapshotRows(name: string): AsyncIterable<SnapshotRows> {
    let next = 0;
    const probe = await this.inner.cursor(name, { kind: 'tail', lines: 0 });
    if (probe !== null) {
      const gen = probe.generation;
      probe.release();
      for (const entry of [...(await this.archive.entries(name, gen, true))]) {
        // A chunk that does not start where the last ended ends the copy, and the cursor reads on from `next`:
        // one that overlaps it (a new writer rewrote lines), and one after a hole — a chunk whose write failed
        // while later ones were stored is still pending in the writer, or its lines are a gap the cursor reports.
        if (entry.firstSeq !== next) break;
        const body = await this.archive.body(entry);
        if (body === undefined) break;
        yield { rows: snapshotRowsOf(entry, body), firstSeq: entry.firstSeq, lines: entry.lines, firstOffset: entry.firstOffset };
        next = entry.firstSeq + entry.lines;
      }
    }
    yield* rowsOf(this.linesFrom(name, next));
  }

  private async *linesFrom(name: string, seq: number): AsyncIterable<StoredLine> {
    const cursor = await this.cursor(name, seq === 0 ? { kind: 'beginning' } : { kind: 'after', seq: seq - 1 });
    if (cursor === null) return;
    try {
      for (;;) {
        const batch = await cursor.read(LIST_BATCH_LINES, LIST_BATCH_BYTES);
        if (batch.restart !== undefined) return;
        yield* batch.lines;
        // An empty batch without a gap: everything there is now has been read.
        if (batch.end || (batch.lines.length === 0 && batch.dropped === undefined)) return;
      }
    } finally {
      cursor.release();
    }
  }

  /** Archived (or pending) lines of `gen` from `seq`; `next`: where the archive goes on when it lacks `seq`. */
  async archived(
    name: string,
    gen: number,
    seq: number,
    toSeq: number,
    maxLines: number,
    maxBytes: number,
  ): Promise<{ lines: readonly StoredLine[]; next?: number }> {
    // The writer's unwritten lines first, at once: a chunk leaves the writer's queue only once
    // the archive's index has it. Asked the other way round, a chunk whose write ended while the
    // archive was being read was in neither, and a reader that had fallen behind the ring saw
    // its lines as dropped (a livelog reader was cut off for it).
    const writer = this.archiver.writer(name);
    const pending = writer?.pendingFrom(gen, seq, toSeq, maxLines) ?? [];
    if (pending.length > 0) return { lines: pending };
    const found = await this.archive.read(name, gen, seq, toSeq, maxLines, maxBytes);
    if (found.lines.length > 0) return found;
    const next = [found.nextArchived, writer?.pendingAfter(gen, seq)].filter((n): n is number => n !== undefined && n > seq);
    return { lines: [], next: next.length > 0 ? Math.min(...next) : undefined };
  }

  /** The backend's figures; the archive writer's cursor is not a viewer, so it is not counted as a subscriber. */
  async info(prefix: string): Promise<Map<string, StreamInfo>> {
    const info = await this.inner.info(prefix);
    for (const [name, entry] of info) {
      if (this.archiver.writer(name) !== undefined && entry.subscribers > 0) info.set(name, { ...entry, subscribers: entry.subscribers - 1 });
    }
    return info;
  }

  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix);
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  /**
   * On Redis the writers first (each writes what it read and gives its lease
   * back while Redis is there), then the backend. In memory the backend first:
   * it ends every stream, so its viewers get their terminal event at once and
   * each writer reads to the end and writes it. The chunks stay (§7).
   */
  async shutdown(): Promise<void> {
    if (this.inner.archiveLease !== undefined) {
      await this.archiver.shutdown();
      await this.inner.shutdown();
      return;
    }
    this.archiver.beginStop();
    await this.inner.shutdown();
    await this.archiver.shutdown();
  }
}
