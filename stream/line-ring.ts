// A bounded window of the most recent lines of one stream: at most `maxLines`
// lines and about `maxBytes` bytes of encoded events and texts (docs/BACKENDS.md). Viewers index
// it by seq; nobody holds per-viewer copies.
import type { StoredLine } from './log-stream.ts';

export class LineRing {
  private items: StoredLine[] = [];
  /** Index in `items` of the oldest retained line; the array is compacted lazily. */
  private head = 0;
  private bytes = 0;

  constructor(
    private readonly maxLines: number,
    private readonly maxBytes: number,
  ) {}

  /**
   * Lines from this seq on are not trimmed by the line bound, only by the byte
   * bound: they are what the archive writer has not read yet (CursorOptions.holdsLines).
   */
  heldFrom = Infinity;

  /** Seq of the oldest retained line (== nextSeq when empty). */
  firstSeq = 0;
  /** Seq the next appended line gets. */
  nextSeq = 0;

  get size(): number {
    return this.nextSeq - this.firstSeq;
  }

  get retainedBytes(): number {
    return this.bytes;
  }

  append(line: StoredLine): void {
    this.items.push(line);
    this.bytes += line.eventBytes + line.textBytes;
    this.nextSeq = line.seq + 1;
    if (this.size === 1) this.firstSeq = line.seq;
    // Keep at least the newest line even when it alone is over the byte budget.
    while (this.size > 1 && (this.bytes > this.maxBytes || (this.size > this.maxLines && this.firstSeq < this.heldFrom))) this.dropOldest();
  }

  /** The archive writer read up to `seq`: the lines before it are held no longer, and the line bound applies to them again. */
  holdFrom(seq: number): void {
    this.heldFrom = seq;
    while (this.size > this.maxLines && this.firstSeq < seq) this.dropOldest();
  }

  /** Drops every retained line and goes on at `seq` (a push that skipped lines): readers behind it see a dropped range. */
  skipTo(seq: number): void {
    if (seq <= this.nextSeq) return;
    this.items = [];
    this.head = 0;
    this.bytes = 0;
    this.firstSeq = seq;
    this.nextSeq = seq;
  }

  /** Drops the oldest lines until at most `bytes` are retained (always keeping the newest line); returns how many went. */
  trimTo(bytes: number): number {
    let dropped = 0;
    while (this.bytes > bytes && this.size > 1) {
      this.dropOldest();
      dropped++;
    }
    return dropped;
  }

  /** The line with this seq, if retained. */
  at(seq: number): StoredLine | undefined {
    if (seq < this.firstSeq || seq >= this.nextSeq) return undefined;
    return this.items[this.head + (seq - this.firstSeq)];
  }

  /** Consecutive lines from `seq` on, bounded by count and (softly) bytes. */
  slice(seq: number, maxLines: number, maxBytes: number): StoredLine[] {
    const out: StoredLine[] = [];
    let total = 0;
    for (let s = Math.max(seq, this.firstSeq); s < this.nextSeq && out.length < maxLines; s++) {
      const line = this.items[this.head + (s - this.firstSeq)];
      if (line === undefined) break;
      if (out.length > 0 && total + line.eventBytes > maxBytes) break;
      out.push(line);
      total += line.eventBytes;
    }
    return out;
  }

  private dropOldest(): void {
    const line = this.items[this.head];
    if (line === undefined) return;
    this.items[this.head] = undefined as unknown as StoredLine; // let it be collected
    this.head++;
    this.bytes -= line.eventBytes + line.textBytes;
    this.firstSeq++;
    // Compact when the dead prefix is over half of the array: amortised O(1).
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
