// A bounded window of the most recent lines of one stream: at most `maxLines`
// lines and about `maxBytes` bytes of encoded events (docs/BACKENDS.md). Viewers index
// it by seq; nobody holds per-viewer copies.
import type { StoredLine } from './log-stream.ts';

export class LineRing {
  private items: StoredLine[] = [];
  /**
   * Parallel to `items`: the seq of the first line of the run this line's
   * event belongs to, a run being lines whose events lie back to back in one
   * buffer (a push encoded by encodeLines). `events()` sends a run as one view.
   */
  private runStarts: number[] = [];
  /** Index in `items` of the oldest retained line; the array is compacted lazily. */
  private head = 0;
  private bytes = 0;

  constructor(
    private readonly maxLines: number,
    private readonly maxBytes: number,
  ) {}

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
    const prev = this.items.length > this.head ? this.items[this.items.length - 1] : undefined;
    const adjacent =
      prev !== undefined &&
      prev.seq + 1 === line.seq &&
      prev.event.buffer === line.event.buffer &&
      prev.event.byteOffset + prev.event.length === line.event.byteOffset;
    this.runStarts.push(adjacent ? this.runStarts[this.runStarts.length - 1]! : line.seq);
    this.items.push(line);
    this.bytes += line.event.length;
    this.nextSeq = line.seq + 1;
    if (this.size === 1) this.firstSeq = line.seq;
    // Keep at least the newest line even when it alone is over the byte budget.
    while (this.size > this.maxLines || (this.bytes > this.maxBytes && this.size > 1)) this.dropOldest();
  }

  /** Drops every retained line and goes on at `seq` (a push that skipped lines): readers behind it see a dropped range. */
  skipTo(seq: number): void {
    if (seq <= this.nextSeq) return;
    this.items = [];
    this.runStarts = [];
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
      if (out.length > 0 && total + line.event.length > maxBytes) break;
      out.push(line);
      total += line.event.length;
    }
    return out;
  }

  /**
   * The events of the `count` retained lines from `seq` on, as one buffer for
   * one socket write: a view per run (no copy), concatenated only when the
   * range spans several runs. Cost: O(runs), not O(lines).
   */
  events(seq: number, count: number): Buffer {
    const parts: Buffer[] = [];
    let total = 0;
    for (let last = seq + count - 1; last >= seq;) {
      const lastIndex = this.head + (last - this.firstSeq);
      const first = Math.max(seq, this.runStarts[lastIndex]!);
      const a = this.items[this.head + (first - this.firstSeq)]!.event;
      const b = this.items[lastIndex]!.event;
      const size = b.byteOffset + b.length - a.byteOffset;
      parts.push(first === last ? a : Buffer.from(a.buffer, a.byteOffset, size));
      total += size;
      last = first - 1;
    }
    if (parts.length === 1) return parts[0]!;
    return Buffer.concat(parts.reverse(), total);
  }

  private dropOldest(): void {
    const line = this.items[this.head];
    if (line === undefined) return;
    this.items[this.head] = undefined as unknown as StoredLine; // let it be collected
    this.head++;
    this.bytes -= line.event.length;
    this.firstSeq++;
    // Compact when the dead prefix is over half of the array: amortised O(1).
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.runStarts = this.runStarts.slice(this.head);
      this.head = 0;
    }
  }
}
