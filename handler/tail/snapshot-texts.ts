// The text of finished logs, decoded once and shared by all their raw readers
// (issue 18 §2, docs/ARCHIVE.md §4). A finished log is an NDJSON snapshot:
// its text is every row's `out`, which takes a JSON parse per row. A hundred
// readers of one log would parse it a hundred times; here the first reader
// starts one decode into pieces of about 64 KiB, every reader (that one
// included) sends those pieces as they come, and the pieces stay for the
// next readers while the cache has room. Bounded: a log whose blob is larger
// than LOG_BYTES is never kept (its readers decode it themselves, as before),
// and all kept logs together stay within CACHE_BYTES, the least recently read
// finished ones going first.

/** One piece of a log's text and the byte offset where it starts. */
export interface TextPiece {
  offset: number;
  text: Buffer;
}

/** A log whose blob is larger is not kept: its readers decode it themselves. */
const LOG_BYTES = 64 * 1024 * 1024;
/** Text kept for every log together. */
const CACHE_BYTES = 128 * 1024 * 1024;

class CachedText {
  readonly pieces: TextPiece[] = [];
  bytes = 0;
  /** What the cache counts for it: the blob's size until the decode ends, then the text's. */
  charged: number;
  done = false;
  failed: unknown;
  private waiters: (() => void)[] = [];

  constructor(blobBytes: number) {
    this.charged = blobBytes;
  }

  add(piece: TextPiece): void {
    this.pieces.push(piece);
    this.bytes += piece.text.length;
    this.wake();
  }

  finish(err?: unknown): void {
    this.done = true;
    this.failed = err;
    this.wake();
  }

  /** Resolves on the next piece or the end. */
  changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

export class SnapshotTextCache {
  /** By key, least recently read first. */
  private readonly entries = new Map<string, CachedText>();
  private bytes = 0;

  /**
   * The text of the log `key` (its blob name and etag: an overwritten blob is
   * another key) from its start, decoded by `decode` once for every reader;
   * undefined when it is not kept (too big, or no room): the caller decodes it.
   */
  texts(key: string, blobBytes: number, decode: () => AsyncIterable<TextPiece>): AsyncIterable<TextPiece> | undefined {
    let entry = this.entries.get(key);
    if (entry !== undefined && entry.done && entry.failed !== undefined) {
      this.forget(key);
      entry = undefined;
    }
    if (entry === undefined) {
      // The text is never longer than the blob (each row holds its `out`, escaped): blobBytes bounds the entry.
      if (blobBytes > LOG_BYTES || !this.makeRoom(blobBytes)) return undefined;
      entry = new CachedText(blobBytes);
      this.bytes += blobBytes;
      this.entries.set(key, entry);
      void this.fill(key, entry, decode());
    } else {
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return read(entry);
  }

  /** What the cache holds now, in bytes (for tests and /metrics). */
  get heldBytes(): number {
    return this.bytes;
  }

  private async fill(key: string, entry: CachedText, pieces: AsyncIterable<TextPiece>): Promise<void> {
    try {
      for await (const piece of pieces) {
        entry.add(piece);
        // A blob already in memory decodes in microtasks alone: give the readers and every other request a turn.
        await new Promise((resolve) => setImmediate(resolve));
      }
      entry.finish();
      if (this.entries.get(key) === entry) this.bytes -= entry.charged - entry.bytes;
      entry.charged = entry.bytes;
    } catch (err) {
      entry.finish(err);
      this.forget(key);
    }
  }

  /** Drops finished logs, least recently read first, until `bytes` more fit; false when they cannot. */
  private makeRoom(bytes: number): boolean {
    for (const [key, entry] of this.entries) {
      if (this.bytes + bytes <= CACHE_BYTES) break;
      if (entry.done) this.forget(key);
    }
    return this.bytes + bytes <= CACHE_BYTES;
  }

  private forget(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    this.bytes -= entry.charged;
  }
}

async function* read(entry: CachedText): AsyncGenerator<TextPiece> {
  for (let i = 0; ; i++) {
    while (i >= entry.pieces.length && !entry.done) await entry.changed();
    if (i < entry.pieces.length) {
      yield entry.pieces[i]!;
      continue;
    }
    if (entry.failed !== undefined) throw entry.failed;
    return;
  }
}
