// A bounded window of the most recent lines of one stream: at most `maxLines`
// lines and about `maxBytes` bytes of encoded events and texts (docs/BACKENDS.md). Viewers index
// it by seq; nobody holds per-viewer copies. A push is kept as one block
// (line-block.ts), not one object a line: line objects are made when read.
import { LineList, type LineBlock, type RingEntry } from './line-block.ts';
import type { SentPush, StoredLine } from './log-stream.ts';
import { RawBlock } from './raw-block.ts';
import { NO_LINES, SharedSlices } from './shared-slices.ts';

/** First seqs whose slices are kept for the viewers that ask next (LineRing.slices): a push of 16,000 lines is 8 batches. */
const SLICES_KEPT = 8;

/**
 * A head entry whose dropped lines hold more bytes than this and than its
 * retained ones is cut down to what it retains (compactHead): a stream then
 * holds at most twice what it counts, plus this.
 */
const COMPACT_MIN_BYTES = 16 * 1024;

export class LineRing {
  /** Blocks and lines in seq order, without gaps. */
  private entries: RingEntry[] = [];
  /** Index in `entries` of the oldest retained one; the array is compacted lazily. */
  private head = 0;
  /** Lines of entries[head] already dropped. */
  private headSkip = 0;
  private bytes = 0;
  /**
   * The slices asked for since the last change, by their first seq: a push
   * wakes every viewer of the stream at the same seq, and they share one array
   * per batch instead of building one each (a hundred raw readers copied 1,000
   * lines apiece per push; a push of 10,000 lines is five batches, read by
   * each viewer in its own time). Dropped on append, since a slice that reached
   * the end would be longer now, and when a line goes. At most SLICES_KEPT first
   * seqs, two bounds each: at most 16 arrays of at most a batch's lines
   * (2,000) a stream, until its next push. A block whose lines were read a
   * second time keeps them, so an array of them adds its references (8 bytes
   * a line); a first read's lines are made for the array (about 100 bytes a
   * line). The archive writer's reads (`once`) are not kept here.
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

  /** Appends consecutive lines, kept as the very objects (lines a backend rebuilt from their JSON), as one entry. */
  appendLines(lines: readonly StoredLine[]): void {
    if (lines.length > 0) this.appendEntry(new LineList(lines));
  }

  /** Appends the lines of one push, kept as their block (or as sent: RawBlock). */
  appendBlock(block: LineBlock | RawBlock): void {
    if (block.count > 0) this.appendEntry(block);
  }

  private appendEntry(entry: RingEntry): void {
    this.slices.clear();
    if (this.size === 0) {
      this.entries = [];
      this.head = 0;
      this.headSkip = 0;
      this.firstSeq = entry.firstSeq;
    }
    this.entries.push(entry);
    this.bytes += entry.bytes(0, entry.count);
    this.nextSeq = entry.firstSeq + entry.count;
    // The line bound (not on lines the archive writer has not read), then the byte bound.
    this.dropLines(Math.min(this.size - this.maxLines, this.heldFrom - this.firstSeq));
    this.dropLines(this.linesOver(this.maxBytes));
  }

  /** The archive writer read up to `seq`: the lines before it are held no longer, and the line bound applies to them again. */
  holdFrom(seq: number): void {
    this.heldFrom = seq;
    this.dropLines(Math.min(this.size - this.maxLines, seq - this.firstSeq));
  }

  /** Drops every retained line and goes on at `seq` (a push that skipped lines): readers behind it see a dropped range. */
  skipTo(seq: number): void {
    if (seq <= this.nextSeq) return;
    this.slices.clear();
    this.entries = [];
    this.head = 0;
    this.headSkip = 0;
    this.bytes = 0;
    this.firstSeq = seq;
    this.nextSeq = seq;
  }

  /** Drops the oldest lines until at most `bytes` are retained (always keeping the newest line); returns how many went. */
  trimTo(bytes: number): number {
    const count = this.linesOver(bytes);
    this.dropLines(count);
    return count;
  }

  /**
   * Pushes kept as sent from `seq` on, whose lines nobody has read (so none
   * was made): the archive writer's read, which copies them as they are.
   * Whole pushes only, at least one, then up to `maxLines` and `maxBytes` of
   * their bodies; undefined when the entry at `seq` is not such a push.
   */
  sentFrom(seq: number, maxLines: number, maxBytes: number): SentPush[] | undefined {
    if (seq < this.firstSeq || seq >= this.nextSeq) return undefined;
    let pushes: SentPush[] | undefined;
    let lines = 0;
    let bytes = 0;
    for (let index = this.entryOf(seq); index < this.entries.length; index++) {
      const entry = this.entries[index]!;
      const sent = entry instanceof RawBlock ? entry.asSent : undefined;
      if (sent === undefined || sent.firstSeq !== seq + lines) break;
      if (pushes !== undefined && (lines + sent.lines > maxLines || bytes + sent.body.length > maxBytes)) break;
      (pushes ??= []).push(sent);
      lines += sent.lines;
      bytes += sent.body.length;
    }
    return pushes;
  }

  /** The line with this seq, if retained. */
  at(seq: number): StoredLine | undefined {
    if (seq < this.firstSeq || seq >= this.nextSeq) return undefined;
    const index = this.entryOf(seq);
    const entry = this.entries[index]!;
    return entry.line(seq - entry.firstSeq);
  }

  /** Index in `entries` of the one holding retained `seq` (binary search: their seqs ascend). */
  private entryOf(seq: number): number {
    let lo = this.head;
    let hi = this.entries.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.entries[mid]!.firstSeq <= seq) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /**
   * Consecutive lines from `seq` on, bounded by count and (softly) bytes;
   * shared with the next caller who asks the same (read-only). A block read
   * twice keeps its line objects for the next readers (RingEntry.read),
   * unless read with `once`: a reader that reads each line once and holds
   * none (the archive writer) gets lines made for it alone, neither kept by
   * the block nor shared, so that a stream nobody watches holds no line
   * objects.
   */
  slice(seq: number, maxLines: number, maxBytes: number, once = false): readonly StoredLine[] {
    const from = Math.max(seq, this.firstSeq);
    // A reader at the end asks too (is there more?): that answer must not take the shared slice's place.
    if (from >= this.nextSeq || maxLines <= 0) return NO_LINES;
    const kept = this.slices.get(from, maxLines, maxBytes);
    if (kept !== undefined) return kept;
    const lines = this.collect(from, Math.min(this.nextSeq, from + maxLines), maxBytes, once);
    if (!once) this.slices.keep(from, maxLines, maxBytes, lines);
    return lines;
  }

  /** Lines from `from` to before `stop`, about `maxBytes` of events, the first line always (as shared-slices.ts batchEnd). */
  private collect(from: number, stop: number, maxBytes: number, once: boolean): StoredLine[] {
    const lines: StoredLine[] = [];
    let total = 0;
    let next = from;
    for (let index = this.entryOf(from); next < stop; index++) {
      const entry = this.entries[index]!;
      const start = next - entry.firstSeq;
      let end = start;
      for (; end < entry.count && next < stop; end++, next++) {
        const bytes = entry.eventBytes(end);
        if (next > from && total + bytes > maxBytes) break;
        total += bytes;
      }
      if (end === start) break; // the byte bound
      if (!once) entry.read(start, end);
      for (let i = start; i < end; i++) lines.push(entry.line(i));
      if (end < entry.count && next < stop) break; // the byte bound, inside this entry
    }
    return lines;
  }

  /**
   * Trimming part of an entry leaves all of it held until its last line goes
   * (a block's buffer, a list's line objects): a push of 25,000 lines trimmed
   * to a few held all its bytes while the ring (and the process's memory
   * budget, MemoryLogStream) counted a few lines. Once its dropped lines hold
   * more than COMPACT_MIN_BYTES and more than its retained ones, the head
   * entry is replaced by one of what it retains (RingEntry.tail); each
   * replacement at least halves it, so copying costs at most what was dropped.
   */
  private compactHead(): void {
    if (this.headSkip === 0) return;
    const entry = this.entries[this.head]!;
    const dropped = entry.bytes(0, this.headSkip);
    if (dropped <= COMPACT_MIN_BYTES || dropped <= entry.bytes(this.headSkip, entry.count)) return;
    this.entries[this.head] = entry.tail(this.headSkip);
    this.headSkip = 0;
  }

  /**
   * Oldest lines to drop so that at most `bytes` stay retained, the newest
   * line always kept even when it alone is over: whole entries at a time,
   * then line by line inside the one the bound falls in.
   */
  private linesOver(bytes: number): number {
    let over = this.bytes - bytes;
    let count = 0;
    for (let index = this.head, skip = this.headSkip; over > 0 && index < this.entries.length; index++, skip = 0) {
      const entry = this.entries[index]!;
      const rest = entry.bytes(skip, entry.count);
      if (rest <= over && index < this.entries.length - 1) {
        over -= rest;
        count += entry.count - skip;
        continue;
      }
      for (let i = skip; over > 0 && count < this.size - 1; i++, count++) over -= entry.bytes(i, i + 1);
      break;
    }
    return count;
  }

  /** Drops the oldest `count` lines (none when `count` ≤ 0; never the newest), whole entries at a time. */
  private dropLines(count: number): void {
    count = Math.min(count, this.size - 1);
    if (count <= 0) return;
    this.slices.clear(); // they must not keep a line the ring let go
    while (count > 0) {
      const entry = this.entries[this.head]!;
      const take = Math.min(count, entry.count - this.headSkip);
      this.bytes -= entry.bytes(this.headSkip, this.headSkip + take);
      this.firstSeq += take;
      this.headSkip += take;
      count -= take;
      if (this.headSkip < entry.count) break;
      this.entries[this.head] = undefined as unknown as RingEntry; // let it be collected
      this.head++;
      this.headSkip = 0;
    }
    // Compact when the dead prefix is over half of the array: amortised O(1).
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    this.compactHead();
  }
}
