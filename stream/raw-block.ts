// A push kept as the producer sent it (docs/ARCHITECTURE.md, "A push is kept
// as sent"): the JSON array body its lines were parsed from, encoded into a
// LineBlock only when someone first reads a line of it. The archive writer
// does not read lines: it copies the body into its chunk as it is
// (ReadBatch.pushes, archive/chunk-format.ts), so a push nobody watches is
// never encoded at all, and ingest pays for parsing the body once, not for
// making every line's event and text (BENCHMARKS.md, "ingest: a push kept as
// sent").
import { decimalDigits, eventHeadBytes, LineBlock, type RingEntry } from './line-block.ts';
import { encodeBlock } from './line-codec.ts';
import type { LineInput, ScannedPush, SentPush, StoredLine } from './log-stream.ts';

/**
 * The lines of a JSON array body whose lines a push handler already checked
 * (handler/push-lines.ts checkLine; HTTP's body, or gRPC's batch as JSON):
 * the same LineInput fields checkLine takes from each element, without
 * checking them again.
 */
function sentInputs(body: Buffer): LineInput[] {
  const items = JSON.parse(body.toString('latin1')) as Record<string, unknown>[];
  const inputs = new Array<LineInput>(items.length);
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    const input: LineInput = { out: item.out as string };
    if (item.level !== undefined) input.level = item.level as string;
    if (item.pos !== undefined) input.pos = item.pos as number;
    if (item.time !== undefined) input.time = item.time as string;
    if (item.args !== undefined && item.args !== null) input.args = item.args as Record<string, unknown>;
    inputs[i] = input;
  }
  return inputs;
}

/** The line block of a push kept as sent: what encodeBlock made of its lines at push time. */
export function encodeSent(push: Pick<SentPush, 'firstSeq' | 'firstOffset' | 'time' | 'body'>): LineBlock {
  // No line of a push kept as sent was over the line limit (MemoryLogStream.store): nothing to cut.
  return encodeBlock(push.firstSeq, push.firstOffset, sentInputs(push.body), Infinity, push.time);
}

/**
 * The push as a RawBlock when it can be kept as sent: its body is given (the
 * handler's: a JSON array of exactly `inputs`, every byte ASCII) and no line
 * is over the line limit (nothing is cut, which encodeSent relies on).
 * Otherwise undefined: encode it now.
 */
export function keptAsSent(
  firstSeq: number,
  firstOffset: number,
  inputs: readonly LineInput[],
  body: Buffer | undefined,
  maxLineBytes: number,
  time: string,
): RawBlock | undefined {
  if (body === undefined || inputs.length === 0) return undefined;
  // An escape (`\u00e9`, `\u4e00`) makes characters of more than a byte from ASCII: then each
  // line's bytes are counted, not its characters (its text offsets, its line limit).
  const escaped = body.includes(UNICODE_ESCAPE);
  const counted = countedBytes(firstSeq, inputs, body.length, time, maxLineBytes, escaped);
  if (counted === undefined) return undefined;
  const sent: SentPush = { firstSeq, lines: inputs.length, firstOffset, textBytes: counted.textBytes, time, body };
  return new RawBlock(firstSeq, inputs.length, counted.perLine, sent);
}

const UNICODE_ESCAPE = Buffer.from('\\u', 'latin1');

/** JSON fields a line gets when encoded that its element may lack, and their bytes: `"level":"info",` and the like. */
const LEVEL_BYTES = '"level":"info",'.length;
/** `id: \ndata: `: an event's head less its seq (eventHeadBytes). */
const EVENT_HEAD_BYTES = eventHeadBytes(0) - 1;
const POS_BYTES = '"pos":,'.length;
const TIME_BYTES = ',"time":""'.length;
const ARGS_BYTES = ',"args":'.length;

/**
 * What the ring counts for a push kept as sent, fixed at push: its lines'
 * events and texts as encodeBlock would make them, from each line's `out`
 * and the fields it lacks, plus the rest of the body (keys, quotes, escapes,
 * the fields the lines have, the array's brackets and commas). Never less
 * than what the lines hold once made: a string is never longer written again
 * than as sent, and what may be (a `pos` or an `args` number written short,
 * `1e15`) is counted as it will be written, on top of its share of the body.
 * Within a byte a line more, for a body of lines as encodeBlock writes them
 * without `pos`; a few bytes a line more with it; a line's `args` twice over
 * (as sent and as they will be written). Undefined when a line is over
 * `maxLineBytes` (it would be cut). Line by line (`perLine`, cumulative):
 * a bound that cuts inside a push of uneven lines keeps its big lines
 * counted as big.
 */
function countedBytes(
  firstSeq: number,
  inputs: readonly LineInput[],
  bodyBytes: number,
  time: string,
  maxLineBytes: number,
  escaped: boolean,
): { perLine: Uint32Array; textBytes: number } | undefined {
  const perLine = new Uint32Array(inputs.length + 1);
  let made = 0;
  let textBytes = 0;
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i]!;
    // Unescaped ASCII: a character is a byte.
    const bytes = escaped ? Buffer.byteLength(input.out, 'utf8') : input.out.length;
    if (bytes > maxLineBytes) return undefined;
    textBytes += bytes;
    const posDigits = input.pos === undefined ? 0 : decimalDigits(input.pos);
    made += lineCount(bytes, input.level !== undefined, posDigits, input.time !== undefined, time.length, decimalDigits(firstSeq + i));
    if (input.args !== undefined) made += ARGS_BYTES + Buffer.byteLength(JSON.stringify(input.args), 'utf8');
    perLine[i + 1] = made;
  }
  shareRest(perLine, inputs.length, bodyBytes, textBytes);
  return { perLine, textBytes };
}

/**
 * What a line without `args` counts: its event (head, JSON with its `out` and
 * the fields it lacks, blank line), then its text. `posDigits`: the digits of
 * its `pos` (checkLine: a non-negative safe integer) as it will be written, 0
 * when it has none (it gets its seq).
 */
function lineCount(bytes: number, hasLevel: boolean, posDigits: number, hasTime: boolean, timeBytes: number, seqDigits: number): number {
  return (
    EVENT_HEAD_BYTES +
    seqDigits +
    bytes +
    2 +
    bytes +
    (hasLevel ? 0 : LEVEL_BYTES) +
    (posDigits === 0 ? POS_BYTES + seqDigits : posDigits) +
    (hasTime ? 0 : TIME_BYTES + timeBytes)
  );
}

/** Adds the rest of the body (keys, quotes, escapes, commas) to the cumulative counts, shared evenly; each line's `out` counts as its own. */
function shareRest(perLine: Uint32Array, lines: number, bodyBytes: number, textBytes: number): void {
  const rest = Math.max(0, bodyBytes - textBytes);
  for (let i = 1; i <= lines; i++) perLine[i] = perLine[i]! + Math.floor((rest * i) / lines);
}

/**
 * What a scanned line (handler/sent-scan.ts) tells of itself, packed into one
 * number of ScannedPush.facts: its text bytes, its `pos`'s digits (0: none;
 * at most 15), whether it has a `time` and a `level`. It has no `args`. A
 * scanned body is at most 256 KiB, so its bytes take at most 18 of the 26
 * bits above the flags.
 */
export function packLineFacts(bytes: number, posDigits: number, hasTime: boolean, hasLevel: boolean): number {
  return bytes * 64 + posDigits * 4 + (hasTime ? 2 : 0) + (hasLevel ? 1 : 0);
}

/**
 * The push scanned instead of parsed (ScannedPush) as a RawBlock: what
 * keptAsSent makes of the same body's lines, with the same counts, from the
 * facts the scan packed (turned into the counts in place).
 */
export function keptAsScanned(firstSeq: number, firstOffset: number, scan: ScannedPush, time: string): RawBlock {
  const counted = scan.facts;
  const lines = scan.lines;
  let made = 0;
  // The seqs' digits, counted once and stepped at each power of ten (not divided out line by line).
  let seqDigits = decimalDigits(firstSeq);
  let moreDigitsAt = 10 ** seqDigits;
  for (let i = 0; i < lines; i++) {
    if (firstSeq + i === moreDigitsAt) {
      seqDigits++;
      moreDigitsAt *= 10;
    }
    const facts = counted[i + 1]!;
    made += lineCount(Math.floor(facts / 64), (facts & 1) !== 0, (facts >>> 2) & 15, (facts & 2) !== 0, time.length, seqDigits);
    counted[i + 1] = made;
  }
  counted[0] = 0;
  shareRest(counted, lines, scan.body.length, scan.textBytes);
  const sent: SentPush = { firstSeq, lines, firstOffset, textBytes: scan.textBytes, time, body: scan.body };
  return new RawBlock(firstSeq, lines, counted, sent);
}

/**
 * A push kept as sent, in the ring. Its lines are made (a LineBlock) when one
 * is first read; the body is then let go. What it counts (`bytes`) never
 * changes, so the ring's and the process's sums stay right, line by line.
 */
export class RawBlock implements RingEntry {
  private sent: SentPush | undefined;
  private block: LineBlock | undefined;
  /** Text bytes of its lines. */
  readonly textBytes: number;

  constructor(
    readonly firstSeq: number,
    readonly count: number,
    /** What lines 0..i-1 count (countedBytes), for i = 0..count. */
    private readonly counted: Uint32Array,
    source: SentPush | LineBlock,
  ) {
    if (source instanceof LineBlock) this.block = source;
    else this.sent = source;
    this.textBytes = source.textBytes;
  }

  /** The push as sent, while no line of it was made (then the archive writer copies it as it is). */
  get asSent(): SentPush | undefined {
    return this.sent;
  }

  private lines_(): LineBlock {
    if (this.block === undefined) {
      this.block = encodeSent(this.sent!);
      this.sent = undefined;
    }
    return this.block;
  }

  line(i: number): StoredLine {
    return this.lines_().line(i);
  }

  bytes(from: number, to: number): number {
    return to <= from ? 0 : this.counted[to]! - this.counted[from]!;
  }

  eventBytes(i: number): number {
    return this.lines_().eventBytes(i);
  }

  read(from: number, to: number): void {
    this.lines_().read(from, to);
  }

  tail(from: number): RawBlock {
    const counted = new Uint32Array(this.count - from + 1);
    const base = this.counted[from]!;
    for (let i = from; i <= this.count; i++) counted[i - from] = this.counted[i]! - base;
    return new RawBlock(this.firstSeq + from, this.count - from, counted, this.lines_().tail(from));
  }
}
