// How the ring holds lines (docs/ARCHITECTURE.md, "A push is one object"):
// the lines of one push as one block — their events and texts back to back in
// one buffer, and where each line ends in one typed array — not one object a
// line. A line object (EncodedLine, the one shape every StoredLine has) is
// made only when someone reads the line, and dies young. Under ingest the
// ring held ten thousand line objects a stream; the garbage collector copied
// each of them at least once and marked it again in the old generation, which
// cost more than encoding the line (BENCHMARKS.md, "ingest: a push is one
// object").
import type { StoredLine, TextRun } from './log-stream.ts';

/** The one shape of every StoredLine (fields documented there), so that reads of a line's fields see one hidden class. */
export class EncodedLine implements StoredLine {
  constructor(
    readonly seq: number,
    readonly offset: number,
    readonly textBytes: number,
    readonly eventRun: Buffer,
    readonly eventStart: number,
    readonly eventBytes: number,
    readonly jsonStart: number,
    public texts: TextRun | undefined,
  ) {}

  get event(): Buffer {
    return this.eventRun.subarray(this.eventStart, this.eventStart + this.eventBytes);
  }
}

/** Bytes of an event's head, `id: <seq>\ndata: `, before the line's JSON. */
export function eventHeadBytes(seq: number): number {
  return 11 + decimalDigits(seq);
}

/** Characters of a non-negative integer in decimal (`String(n).length`, without making the string). */
export function decimalDigits(n: number): number {
  let digits = 1;
  for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  return digits;
}

/** What the ring keeps of consecutive lines: a block of a push's lines, or one line appended alone. */
export interface RingEntry {
  readonly firstSeq: number;
  readonly count: number;
  /** The line at index `i` (0 ≤ i < count): made now for a block, the very object for a line kept alone. */
  line(i: number): StoredLine;
  /** Bytes of the events and texts of lines from..to-1, what they cost the ring's budget. */
  bytes(from: number, to: number): number;
  /** Bytes of the event of line `i`, what a batch's byte bound counts. */
  eventBytes(i: number): number;
  /**
   * A reader that may come back took lines from..to-1 of it: once lines are
   * read a second time (another reader, or one that reads them again) it
   * keeps its line objects, so that each line is made once, not once a
   * reader (a hundred viewers), while one pass (a snapshot, a probe, a viewer
   * reading a big push batch by batch) leaves none behind.
   */
  read(from: number, to: number): void;
  /** Lines `from`..count-1 as an entry of their own, holding nothing of the lines before (LineRing.compactHead). */
  tail(from: number): RingEntry;
}

/**
 * The lines of one push: their events back to back in `run`, then their
 * texts (`texts.bytes`, a view of the same buffer); `ends[2i]` is where line
 * i's event ends in `run`, `ends[2i + 1]` where its text ends in the texts.
 */
export class LineBlock implements RingEntry {
  /**
   * The lines read so far, as one range (a read that does not meet it widens
   * it): a read that overlaps it reads lines a second time (read()).
   */
  private readFrom = 0;
  private readTo = 0;
  /** Its line objects from `keptFrom` on (the first line ever read), once lines were read twice. */
  private kept: StoredLine[] | undefined;
  private keptFrom = 0;

  constructor(
    readonly firstSeq: number,
    readonly count: number,
    readonly run: Buffer,
    readonly texts: TextRun,
    readonly ends: Uint32Array,
  ) {}

  /** Text bytes of every line of the block. */
  get textBytes(): number {
    return this.textStartOf(this.count);
  }

  line(i: number): StoredLine {
    return this.kept === undefined || i < this.keptFrom ? this.make(i) : this.kept[i - this.keptFrom]!;
  }

  read(from: number, to: number): void {
    if (this.kept !== undefined || to <= from) return;
    if (this.readTo > this.readFrom && from < this.readTo && to > this.readFrom) {
      // Lines before the first one read are not kept: the ring had dropped them, or nobody asks for them.
      this.keptFrom = Math.min(from, this.readFrom);
      const kept = new Array<StoredLine>(this.count - this.keptFrom);
      for (let i = this.keptFrom; i < this.count; i++) kept[i - this.keptFrom] = this.make(i);
      this.kept = kept;
    } else if (this.readTo <= this.readFrom) {
      this.readFrom = from;
      this.readTo = to;
    } else {
      this.readFrom = Math.min(this.readFrom, from);
      this.readTo = Math.max(this.readTo, to);
    }
  }

  /**
   * Lines `from`..count-1 as a block of their own, their events and texts
   * copied into a buffer of their size: what the ring keeps of a block whose
   * older lines it dropped, so that the buffer it holds stays near the bytes
   * it counts (LineRing.compactHead).
   */
  tail(from: number): LineBlock {
    const ends = this.ends;
    const eventStart = this.eventStartOf(from);
    const textStart = this.textStartOf(from);
    const eventBytes = this.eventStartOf(this.count) - eventStart;
    const textBytes = this.textStartOf(this.count) - textStart;
    const run = Buffer.allocUnsafeSlow(eventBytes + textBytes);
    this.run.copy(run, 0, eventStart, eventStart + eventBytes);
    this.texts.bytes.copy(run, eventBytes, textStart, textStart + textBytes);
    const count = this.count - from;
    const tailEnds = new Uint32Array(2 * count);
    for (let i = 0; i < count; i++) {
      tailEnds[2 * i] = ends[2 * (from + i)]! - eventStart;
      tailEnds[2 * i + 1] = ends[2 * (from + i) + 1]! - textStart;
    }
    return new LineBlock(this.firstSeq + from, count, run, { bytes: run.subarray(eventBytes), firstOffset: this.texts.firstOffset + textStart }, tailEnds);
  }

  /** Where line `i`'s event starts in `run` (line `count`: where the events end). */
  private eventStartOf(i: number): number {
    return i === 0 ? 0 : this.ends[2 * i - 2]!;
  }

  /** Where line `i`'s text starts in the texts (line `count`: where they end). */
  private textStartOf(i: number): number {
    return i === 0 ? 0 : this.ends[2 * i - 1]!;
  }

  private make(i: number): StoredLine {
    const eventStart = this.eventStartOf(i);
    const textStart = this.textStartOf(i);
    const seq = this.firstSeq + i;
    return new EncodedLine(
      seq,
      this.texts.firstOffset + textStart,
      this.textStartOf(i + 1) - textStart,
      this.run,
      eventStart,
      this.eventStartOf(i + 1) - eventStart,
      eventHeadBytes(seq),
      this.texts,
    );
  }

  bytes(from: number, to: number): number {
    if (to <= from) return 0;
    return this.eventStartOf(to) - this.eventStartOf(from) + this.textStartOf(to) - this.textStartOf(from);
  }

  eventBytes(i: number): number {
    return this.eventStartOf(i + 1) - this.eventStartOf(i);
  }

  /** Every line of the block, made now (not kept). */
  lines(): StoredLine[] {
    const lines = new Array<StoredLine>(this.count);
    for (let i = 0; i < this.count; i++) lines[i] = this.make(i);
    return lines;
  }
}

/**
 * Consecutive lines the ring keeps as the very objects given (lines a backend
 * rebuilt one by one from their JSON, a Redis push's or read's): one entry for
 * the batch, not one a line.
 */
export class LineList implements RingEntry {
  constructor(private readonly list: readonly StoredLine[]) {}

  get firstSeq(): number {
    return this.list[0]!.seq;
  }

  get count(): number {
    return this.list.length;
  }

  line(i: number): StoredLine {
    return this.list[i]!;
  }

  bytes(from: number, to: number): number {
    let bytes = 0;
    for (let i = from; i < to; i++) bytes += this.list[i]!.eventBytes + this.list[i]!.textBytes;
    return bytes;
  }

  eventBytes(i: number): number {
    return this.list[i]!.eventBytes;
  }

  read(): void {}

  /** Lines `from`..count-1 as an entry of their own: the dropped ones (and their buffers) can go. */
  tail(from: number): LineList {
    return new LineList(this.list.slice(from));
  }
}
