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
  let digits = 1;
  for (let n = seq; n >= 10; n = Math.floor(n / 10)) digits++;
  return 11 + digits;
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
   * A reader that may come back took lines of it: on the second such read it
   * keeps its line objects, so that each line is made once, not once a
   * reader (a hundred viewers), while a reader that passes once (a snapshot,
   * a probe) leaves none behind.
   */
  read(): void;
}

/**
 * The lines of one push: their events back to back in `run`, then their
 * texts (`texts.bytes`, a view of the same buffer); `ends[2i]` is where line
 * i's event ends in `run`, `ends[2i + 1]` where its text ends in the texts.
 */
export class LineBlock implements RingEntry {
  /** Reads of it so far, up to the one that makes it keep its lines (read()). */
  private reads = 0;
  /** Its line objects, from its second read on. */
  private kept: StoredLine[] | undefined;

  constructor(
    readonly firstSeq: number,
    readonly count: number,
    readonly run: Buffer,
    readonly texts: TextRun,
    readonly ends: Uint32Array,
  ) {}

  /** Text bytes of every line of the block. */
  get textBytes(): number {
    return this.count === 0 ? 0 : this.ends[2 * this.count - 1]!;
  }

  line(i: number): StoredLine {
    return this.kept === undefined ? this.make(i) : this.kept[i]!;
  }

  read(): void {
    if (this.kept === undefined && ++this.reads >= 2) this.kept = this.lines();
  }

  private make(i: number): StoredLine {
    const ends = this.ends;
    const eventStart = i === 0 ? 0 : ends[2 * i - 2]!;
    const textStart = i === 0 ? 0 : ends[2 * i - 1]!;
    const seq = this.firstSeq + i;
    return new EncodedLine(
      seq,
      this.texts.firstOffset + textStart,
      ends[2 * i + 1]! - textStart,
      this.run,
      eventStart,
      ends[2 * i]! - eventStart,
      eventHeadBytes(seq),
      this.texts,
    );
  }

  bytes(from: number, to: number): number {
    if (to <= from) return 0;
    const ends = this.ends;
    const eventStart = from === 0 ? 0 : ends[2 * from - 2]!;
    const textStart = from === 0 ? 0 : ends[2 * from - 1]!;
    return ends[2 * to - 2]! - eventStart + ends[2 * to - 1]! - textStart;
  }

  eventBytes(i: number): number {
    return this.ends[2 * i]! - (i === 0 ? 0 : this.ends[2 * i - 2]!);
  }

  /** Every line of the block, made now (not kept). */
  lines(): StoredLine[] {
    const lines = new Array<StoredLine>(this.count);
    for (let i = 0; i < this.count; i++) lines[i] = this.make(i);
    return lines;
  }
}

/** A line the ring keeps alone (one a backend rebuilt from its JSON, a test's): the very object, as appended. */
export class OneLine implements RingEntry {
  readonly count = 1;

  constructor(readonly stored: StoredLine) {}

  get firstSeq(): number {
    return this.stored.seq;
  }

  line(): StoredLine {
    return this.stored;
  }

  bytes(from: number, to: number): number {
    return to > from ? this.stored.eventBytes + this.stored.textBytes : 0;
  }

  eventBytes(): number {
    return this.stored.eventBytes;
  }

  read(): void {}
}
