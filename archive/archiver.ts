// The archive writer (docs/ARCHIVE.md §3): one follower per open stream that
// this process writes, reading the stream with an ordinary cursor (the same
// on the memory ring and on Redis) and writing its lines to the blob store in
// chunks of CHUNK_BYTES or CHUNK_MS, whichever comes first. It reads what the
// ring already holds, one batch at a time, and writes one blob per chunk.
// When a working store is slower than the pushes, the pushes wait for it
// (backlog(), docs/ARCHIVE.md §6). When the store fails it stops reading (its
// cursor waits; the ring goes on without it), retries with a backoff, and
// what the ring trimmed meanwhile is a gap in the archive that readers see as
// `dropped`. Nothing here throws into a request.
import { randomBytes } from 'node:crypto';
import type { LogStream, StoredLine, StreamCursor } from '../stream/log-stream.ts';
import type { ChunkArchive } from './chunk-archive.ts';
import { encodeSent } from '../stream/raw-block.ts';
import { ChunkDraft } from './chunk-draft.ts';
import { WriterWait } from './writer-wait.ts';

/**
 * The chunks of a closed stream outlive its grace period by this much: the
 * backend lets the closed stream go at the end of the grace period (the
 * memory backend's sweep, Redis's expiry), and until it has, readers get the
 * stream from it and need the chunks under its ring. Deleted any earlier, a
 * reader in that window got the ring's lines alone, not the log.
 */
const CHUNKS_OUTLIVE_GRACE_MS = 10_000;

/** A chunk is written once it holds this many bytes of line JSON… */
const CHUNK_BYTES = 256 * 1024;
/** …or once its oldest line is this old. */
const CHUNK_MS = 1000;
/**
 * Bytes of line JSON a stream's writer holds unwritten (the chunk being filled and those queued); past it, it stops reading.
 * The chunks it holds keep their rows in buffers the size of their events, up to a quarter more (chunk-format.ts encodeChunk).
 */
const MAX_PENDING_BYTES = 16 * CHUNK_BYTES;
/** Chunk writes of one stream in flight at once. */
const WRITES_PER_STREAM = 4;
/** Chunk writes in flight across every stream of the process; the others wait their turn. */
const FLUSH_CONCURRENCY = 8;
/** A failed chunk write is tried again after this, doubling up to RETRY_MAX_MS. */
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 10_000;
/** The Redis lease (docs/ARCHIVE.md §5): its lifetime, and how often the holder renews it. */
const LEASE_MS = 10_000;
const LEASE_RENEW_MS = 3_000;
/** Lines per cursor read. */
const READ_LINES = 2000;

export interface ArchiverOptions {
  /** How long a closed stream stays readable: its chunks are deleted after that (its snapshot, if any, is the log then). */
  closedGraceMs: number;
  /** Failures worth a log line (a full disk, S3 down); default: ignored. */
  onError?: (err: unknown, name: string) => void;
}

/** A counting semaphore: FLUSH_CONCURRENCY chunk writes at a time. */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(count: number) {
    this.free = count;
  }

  async take(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  give(): void {
    const next = this.waiting.shift();
    if (next !== undefined) next();
    else this.free++;
  }
}

/** A chunk, sealed and waiting for (or in) its blob write. */
interface Sealed {
  gen: number;
  draft: ChunkDraft;
  written?: boolean;
}

/** One stream's archive writer. */
class StreamArchiver {
  /** The chunk being filled: its rows, not its lines. */
  private pending = new ChunkDraft();
  private pendingSince = 0;
  /** Chunks sealed and not yet written, oldest first; written one at a time, in order. */
  private readonly sealed: Sealed[] = [];
  private sealedBytes = 0;
  private writing: Promise<void> | undefined;
  private gen = 0;
  private readonly stop = new AbortController();
  readonly done: Promise<void>;
  private leaseRenewedAt = Date.now();
  private leaseLost = false;
  private finishing = false;
  /** Taking over: the listing of what the archive holds, and the last seq it holds (lines up to it are not written again). */
  private listing: Promise<void> | undefined;
  private skipThrough = -1;
  /** The wait for more lines, ended by halt() and finish() too. */
  private readonly wait = new WriterWait();
  /** The last chunk write failed (a full disk, S3 down): pushes do not wait for this writer then. */
  private failing = false;
  /**
   * Waiting for room in the write queue (the writer and the pushes): woken
   * each time a group of chunk writes ends, not only once the whole queue is
   * written. Woken on the whole queue only, the pushes went on as soon as the
   * first group made room while the writer still waited, and on a busy event
   * loop the ring had to trim lines the writer had not read (a livelog reader
   * was cut off at that gap).
   */
  private roomWaiters: (() => void)[] = [];

  constructor(
    private readonly owner: Archiver,
    readonly name: string,
    private first: StreamCursor | null,
    private readonly fresh: boolean,
  ) {
    this.done = this.run().catch((err: unknown) => this.owner.options.onError?.(err, name));
  }

  /** Unwritten lines of generation `gen` from `seq` on (one chunk's worth, at most `maxLines`): readers see them before they are written. */
  pendingFrom(gen: number, seq: number, toSeq: number, maxLines = Infinity): StoredLine[] {
    for (const { gen: chunkGen, draft } of [...this.sealed, { gen: this.gen, draft: this.pending }]) {
      if (chunkGen !== gen || draft.lines === 0 || seq < draft.firstSeq || seq >= draft.endSeq) continue;
      return draft.slice(seq, toSeq, maxLines);
    }
    return [];
  }

  /** The seq of the first unwritten line of generation `gen` after `seq`, if any (where the unwritten lines go on past a gap). */
  pendingAfter(gen: number, seq: number): number | undefined {
    for (const { gen: chunkGen, draft } of [...this.sealed, { gen: this.gen, draft: this.pending }]) {
      if (chunkGen === gen && draft.lines > 0 && draft.firstSeq > seq) return draft.firstSeq;
    }
    return undefined;
  }

  /**
   * While this writer has stopped reading because a working store is slower
   * than the pushes, the progress of its write queue: pushes wait on it
   * (ArchivedLogStream.push), so the ring never has to trim lines the archive
   * has not read. A failing store is not waited for (docs/ARCHIVE.md §6).
   */
  backlog(): Promise<void> | undefined {
    if (this.failing || this.stopping || this.writing === undefined) return undefined;
    return this.sealedBytes + this.pending.bytes >= MAX_PENDING_BYTES ? this.room() : undefined;
  }

  /** Resolves when the write queue has moved on (a group of chunk writes ended, or the queue stopped). */
  private room(): Promise<void> {
    return new Promise<void>((resolve) => this.roomWaiters.push(resolve));
  }

  /** Wakes the waiters once the queue is back under its bound (or has stopped): each wakes once, for room. */
  private madeRoom(): void {
    if (this.writing !== undefined && !this.stopping && this.sealedBytes + this.pending.bytes >= MAX_PENDING_BYTES) return;
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const wake of waiters) wake();
  }

  halt(): void {
    this.stop.abort();
    this.wait.end();
  }

  /** Stops following after writing everything read so far (a graceful stop). */
  finish(): void {
    this.finishing = true;
    this.wait.end();
  }

  private get stopping(): boolean {
    return this.stop.signal.aborted || this.leaseLost;
  }

  private async run(): Promise<void> {
    let cursor: StreamCursor | null = null;
    let retryMs = RETRY_MIN_MS;
    try {
      while (!this.stopping) {
        if (cursor === null) {
          cursor = await this.openCursor();
          if (cursor === null) return; // gone
          this.gen = cursor.generation;
          void this.owner.dropOlderGenerations(this.name, this.gen);
        }
        // Backpressure: the store is behind by MAX_PENDING_BYTES; the ring goes on without this reader meanwhile.
        while (this.sealedBytes + this.pending.bytes >= MAX_PENDING_BYTES && this.writing !== undefined && !this.stopping) await this.room();
        let batch;
        try {
          batch = await cursor.read(READ_LINES, Math.max(1, CHUNK_BYTES - this.pending.bytes));
          retryMs = RETRY_MIN_MS;
        } catch (err) {
          // The backend failed (Redis away): write what is pending, then resume after the last archived line.
          this.owner.options.onError?.(err, this.name);
          await this.flushAll();
          cursor.release();
          cursor = null;
          await this.sleep(retryMs);
          retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
          continue;
        }
        if (this.listing !== undefined) {
          await this.listing;
          this.listing = undefined;
        }
        if (this.skipThrough >= 0 && batch.pushes !== undefined && batch.pushes[0]!.firstSeq <= this.skipThrough) {
          // Lines the archive may hold already: as lines, which the filter below can cut.
          batch.lines = batch.pushes.flatMap((push) => encodeSent(push).lines());
          batch.pushes = undefined;
        }
        if (this.skipThrough >= 0 && batch.restart === undefined) {
          const through = this.skipThrough;
          if (batch.lines.length > 0 && batch.lines[0]!.seq <= through) batch.lines = batch.lines.filter((line) => line.seq > through);
          if (batch.dropped !== undefined && batch.dropped.from <= through) {
            batch.dropped = batch.dropped.to <= through ? undefined : { from: through + 1, to: batch.dropped.to };
          }
        } else if (batch.restart !== undefined) this.skipThrough = -1;
        // Pushes past what the archive held when this writer took over: nothing more to skip.
        if (batch.pushes !== undefined && batch.pushes[0]!.firstSeq > this.skipThrough) this.skipThrough = -1;
        if (batch.restart !== undefined) {
          // Opened again: the old generation is superseded; its chunks go.
          this.pending = new ChunkDraft();
          const old = this.gen;
          this.gen = cursor.generation;
          this.owner.deleteLater(this.name, old, 0);
        }
        // A chunk holds consecutive lines: a gap (lines the archive could not keep up with) ends one.
        if (batch.dropped !== undefined) {
          this.owner.gapLines += batch.dropped.to - batch.dropped.from + 1;
          this.seal();
        }
        if (batch.lines.length > 0) {
          if (this.pending.lines === 0) this.pendingSince = Date.now();
          this.pending.add(batch.lines);
        }
        if (batch.pushes !== undefined) {
          if (this.pending.lines === 0) this.pendingSince = Date.now();
          for (const push of batch.pushes) this.pending.addPush(push);
        }
        if (this.pending.bytes >= CHUNK_BYTES) this.seal();
        if (batch.end) {
          await this.flushAll();
          this.owner.closed(this.name, this.gen);
          this.owner.deleteLater(this.name, this.gen, this.owner.options.closedGraceMs + CHUNKS_OUTLIVE_GRACE_MS);
          return;
        }
        if (!(await this.renewLease())) break;
        if (batch.lines.length > 0 || batch.pushes !== undefined || batch.dropped !== undefined || batch.restart !== undefined) continue;
        if (this.finishing) break; // caught up: write it all and end
        if (this.pending.lines > 0) {
          const due = this.pendingSince + CHUNK_MS - Date.now();
          if (due <= 0) {
            this.seal();
            continue;
          }
          await cursor.waitForMore(this.wait.begin(due));
        } else {
          await cursor.waitForMore(this.wait.begin(LEASE_RENEW_MS));
        }
      }
      await this.flushAll();
    } finally {
      cursor?.release();
      this.owner.forget(this);
    }
  }

  /**
   * From the beginning. Taking over from another instance (or after a backend
   * failure), the cursor reads at once — the ring does not wait for a listing —
   * and the lines the archive already holds are skipped once the listing
   * answers (`skipThrough`).
   */
  private async openCursor(): Promise<StreamCursor | null> {
    const { inner, archive } = this.owner;
    // The cursor taken when the stream was opened, before any push could pass it.
    const cursor = this.first ?? (await inner.cursor(this.name, { kind: 'beginning' }, { holdsLines: true }));
    const fresh = this.first !== null && this.fresh;
    this.first = null;
    if (cursor === null || fresh) return cursor; // just opened: nothing is archived yet
    this.listing = archive.entries(this.name, cursor.generation, true).then((entries) => {
      const last = entries[entries.length - 1];
      this.skipThrough = last === undefined ? -1 : last.firstSeq + last.lines - 1;
    });
    this.listing.catch(() => undefined); // awaited by run(); handled there
    return cursor;
  }

  /** Renews the Redis lease every LEASE_RENEW_MS; false when another instance holds it now (this one stops). */
  private async renewLease(): Promise<boolean> {
    if (Date.now() - this.leaseRenewedAt < LEASE_RENEW_MS) return true;
    this.leaseRenewedAt = Date.now();
    if (!(await this.owner.lease(this.name))) this.leaseLost = true;
    return !this.leaseLost;
  }

  /** Ends the chunk being filled: it joins the write queue. */
  private seal(): void {
    if (this.pending.lines === 0) return;
    this.sealed.push({ gen: this.gen, draft: this.pending });
    this.owner.sealedChunks++;
    this.sealedBytes += this.pending.bytes;
    this.pending = new ChunkDraft();
    this.writing ??= this.writeSealed().finally(() => {
      this.writing = undefined;
      this.madeRoom();
    });
  }

  /** Seals the chunk being filled and waits until every sealed chunk is written (or the writer stops). */
  private async flushAll(): Promise<void> {
    this.seal();
    while (this.writing !== undefined) await this.writing;
  }

  /**
   * Writes the sealed chunks, one blob each, up to WRITES_PER_STREAM at once
   * (LMDB commits them together, S3 takes them in parallel); a failed write is
   * retried (the chunk stays readable from here meanwhile).
   */
  private async writeSealed(): Promise<void> {
    while (this.sealed.length > 0 && !this.stopping) {
      const group = this.sealed.slice(0, WRITES_PER_STREAM);
      await Promise.all(group.map((chunk) => this.writeChunk(chunk)));
      for (const chunk of group) {
        if (!chunk.written) return; // stopping: the unwritten chunks are lost to the archive (still in the ring while it keeps them)
        this.sealed.shift();
        this.sealedBytes -= chunk.draft.bytes;
      }
      this.madeRoom();
    }
  }

  private async writeChunk(chunk: Sealed): Promise<void> {
    let retryMs = RETRY_MIN_MS;
    while (!this.stopping) {
      await this.owner.slots.take();
      try {
        await this.owner.archive.write(this.name, chunk.gen, chunk.draft);
        chunk.written = true;
        this.failing = false;
        this.owner.chunksWritten++;
        return;
      } catch (err) {
        this.owner.options.onError?.(err, this.name);
        this.owner.failedWrites++;
        this.failing = true;
      } finally {
        this.owner.slots.give();
      }
      await this.sleep(retryMs);
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      const signal = this.stop.signal;
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

/** The archive writers of this process, one per stream it writes. */
export class Archiver {
  readonly slots = new Slots(FLUSH_CONCURRENCY);
  private readonly writers = new Map<string, StreamArchiver>();
  /** When this process last tried for a stream's lease (a push tries at most once per LEASE_RENEW_MS). */
  private readonly tried = new Map<string, number>();
  private readonly deletions = new Set<NodeJS.Timeout>();
  private stopped = false;
  /** This process's id in the Redis lease. */
  readonly id = randomBytes(9).toString('base64url');
  chunksWritten = 0;
  sealedChunks = 0;
  failedWrites = 0;
  /** Lines the writers could not archive (the ring trimmed them before they were read). */
  gapLines = 0;

  constructor(
    readonly inner: LogStream,
    readonly archive: ChunkArchive,
    readonly options: ArchiverOptions,
  ) {}

  /** The writer of `name` in this process, if any. */
  writer(name: string): StreamArchiver | undefined {
    return this.writers.get(name);
  }

  /**
   * Makes sure someone writes `name`'s archive: this process when it has (or
   * gets) the lease. Called on open (`opened`: a new generation, nothing
   * archived yet) and, at most every LEASE_RENEW_MS per stream, on push: that
   * is how a stream whose writer died is taken over.
   */
  async ensure(name: string, opened = false): Promise<void> {
    if (this.stopped || this.writers.has(name)) return;
    const now = Date.now();
    if (!opened && now - (this.tried.get(name) ?? 0) < LEASE_RENEW_MS) return;
    this.tried.set(name, now);
    if (this.tried.size > 10_000) this.tried.delete(this.tried.keys().next().value!);
    if (!(await this.lease(name)) || this.stopped || this.writers.has(name)) return;
    // The cursor first (no await between it and the caller's open): it starts at the first line.
    const cursor = await this.inner.cursor(name, { kind: 'beginning' }, { holdsLines: true });
    if (cursor === null) return;
    if (this.stopped || this.writers.has(name)) {
      cursor.release();
      return;
    }
    this.writers.set(name, new StreamArchiver(this, name, cursor, opened));
  }

  /** Takes or renews the lease of `name` (always true on a one-process backend). */
  async lease(name: string): Promise<boolean> {
    if (this.inner.archiveLease === undefined) return true;
    try {
      return await this.inner.archiveLease(name, this.id, LEASE_MS);
    } catch (err) {
      this.options.onError?.(err, name);
      return false;
    }
  }

  forget(writer: StreamArchiver): void {
    if (this.writers.get(writer.name) === writer) this.writers.delete(writer.name);
    this.tried.delete(writer.name);
    void this.inner.releaseArchiveLease?.(writer.name, this.id).catch(() => undefined);
  }

  /** Streams this process saw close, whose chunks go at the end of the grace period: not served as a crashed log meanwhile. */
  private readonly closedGens = new Map<string, number>();

  closed(name: string, gen: number): void {
    this.closedGens.set(name, gen);
    if (this.closedGens.size > 10_000) this.closedGens.delete(this.closedGens.keys().next().value!);
  }

  closedHere(name: string, gen: number): boolean {
    return this.closedGens.get(name) === gen;
  }

  /** Deletes a generation's chunks after `ms` (a closed stream's grace period), unless the process stops first. */
  deleteLater(name: string, gen: number, ms: number): void {
    // Stopping: the chunks stay, and the next start serves them (a log the process could not finish).
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.deletions.delete(timer);
      this.archive.deleteGeneration(name, gen).catch((err: unknown) => this.options.onError?.(err, name));
    }, ms);
    timer.unref();
    this.deletions.add(timer);
  }

  /** A stream opened again: older generations' chunks (left by a crash, or a reopen) go. */
  async dropOlderGenerations(name: string, gen: number): Promise<void> {
    try {
      for (const old of await this.archive.generations(name)) if (old < gen) await this.archive.deleteGeneration(name, old);
    } catch (err) {
      this.options.onError?.(err, name);
    }
  }

  /** No new writer, no deletion from now on (the process stops: the chunks stay). */
  beginStop(): void {
    this.stopped = true;
    for (const timer of this.deletions) clearTimeout(timer);
    this.deletions.clear();
  }

  /**
   * Stops every writer after it wrote what it read (within `timeoutMs`, then
   * for good) and gave its lease back; the chunks stay (a stopped process's
   * streams are readable from them, §7). Before the backend stops.
   */
  async shutdown(timeoutMs = 5000): Promise<void> {
    this.beginStop();
    for (const writer of this.writers.values()) writer.finish();
    const all = Promise.all([...this.writers.values()].map((w) => w.done));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    for (const writer of this.writers.values()) writer.halt();
    await Promise.race([Promise.all([...this.writers.values()].map((w) => w.done)), new Promise<void>((resolve) => setTimeout(resolve, 1000).unref())]);
  }
}
