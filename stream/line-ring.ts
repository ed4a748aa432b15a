// A bounded window of the most recent lines of one stream: at most `maxLines`
// lines and about `maxBytes` bytes of encoded events and texts (docs/BACKENDS.md). Viewers index
// it by seq; nobody holds per-viewer copies.
import type { StoredLine } from './log-stream.ts';
import { batchEnd, NO_LINES, SharedSlices } from './shared-slices.ts';

/** First seqs whose slices are kept for the viewers that ask next (LineRing.slices): a push of 16,000 lines is 8 batches. */
const SLICES_KEPT = 8;

export class LineRing {
  private items: StoredLine[] = [];
  /** Index in `items` of the oldest retained line; the array is compacted lazily. */
  private head = 0;
  private bytes = 0;
  /**
   * The slices asked for since the last change, by their first seq: a push
   * wakes every viewer of the stream at the same seq, and they share one array
   * per batch instead of building one each (a hundred raw readers copied 1,000
   * lines apiece per push; a push of 10,000 lines is five batches, read by
   * each viewer in its own time). Dropped on append, since a slice that reached
   * the end would be longer now, and when a line goes. At most SLICES_KEPT first
   * seqs, two bounds each (the viewers' and the archive writer's): the lines are
   * the ring's own, so what this adds is the arrays, at most 16 of at most a
   * batch's lines (2,000 × 8 bytes) a stream, until its next push.
   */
  private readonly slices = new SharedSlices(SLICES_KEPT);

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
    this.slices.clear();
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
    this.slices.clear();
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

  /** Consecutive lines from `seq` on, bounded by count and (softly) bytes; shared with the next caller who asks the same (read-only). */
  slice(seq: number, maxLines: number, maxBytes: number): readonly StoredLine[] {
    const from = Math.max(seq, this.firstSeq);
    // A reader at the end asks too (is there more?): that answer must not take the shared slice's place.
    if (from >= this.nextSeq || maxLines <= 0) return NO_LINES;
    const kept = this.slices.get(from, maxLines, maxBytes);
    if (kept !== undefined) return kept;
    const start = this.head + (from - this.firstSeq);
    const stop = this.head + Math.min(this.nextSeq - this.firstSeq, from - this.firstSeq + maxLines);
    // Find the end first, then copy the run at once (Array.slice) rather than push line by line.
    const lines = this.items.slice(start, batchEnd(this.items, start, stop, maxBytes));
    this.slices.keep(from, maxLines, maxBytes, lines);
    return lines;
  }

  private dropOldest(): void {
    const line = this.items[this.head];
    if (line === undefined) return;
    this.slices.clear(); // they must not keep a line the ring let go
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
