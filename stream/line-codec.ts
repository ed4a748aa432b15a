// Turns producer input into stored lines, once per line (docs/PROTOCOL.md §4).
import { EncodedLine, LineBlock } from './line-block.ts';
import type { LineInput, LogLine, StoredLine, TextRun } from './log-stream.ts';

const TRUNCATION_MARKER = '… [log-service: line truncated]';

const MARKER_BYTES = Buffer.byteLength(TRUNCATION_MARKER, 'utf8');

/**
 * Cuts `out` to at most `maxBytes` UTF-8 bytes, marker and newline included
 * (docs/PROTOCOL.md §4: at most 64 KiB, truncated on a UTF-8 boundary with a visible
 * marker). A trailing newline is kept so the log text keeps its line structure.
 */
export function truncateOut(out: string, maxBytes: number): string {
  if (out.length * 3 <= maxBytes) return out; // cannot exceed: fast path
  const bytes = Buffer.from(out, 'utf8');
  if (bytes.length <= maxBytes) return out;
  const newline = out.endsWith('\n') ? '\n' : '';
  let cut = Math.max(0, maxBytes - MARKER_BYTES - newline.length);
  // UTF-8 continuation bytes are 10xxxxxx: back up to the start of a character.
  while (cut > 0 && ((bytes[cut] ?? 0) & 0xc0) === 0x80) cut--;
  return bytes.subarray(0, cut).toString('utf8') + TRUNCATION_MARKER + newline;
}

export function normaliseLine(input: LineInput, seq: number, maxLineBytes: number, now: string): LogLine {
  const line: LogLine = {
    level: input.level ?? 'info',
    pos: input.pos ?? seq,
    out: truncateOut(input.out, maxLineBytes),
    time: input.time ?? now,
  };
  if (input.args !== undefined) line.args = input.args;
  return line;
}

/**
 * A character that is not printable ASCII, or is `"` or `\`: the text may
 * need escaping (a control character, a quote, a backslash, a lone
 * surrogate) and goes to JSON.stringify. Listing the safe characters scans
 * about a quarter faster than listing the ones JSON escapes, and text that is
 * not ASCII is still exact (the serialiser is the reference).
 */
const NOT_PLAIN = /[^\u0020\u0021\u0023-\u005b\u005d-\u007e]/;

/**
 * JSON.stringify(text), byte for byte. Most log text is plain ASCII but its
 * final newline: one regular-expression test and the quotes cost about two
 * thirds of what the serialiser does on a 100-byte line. Anything else (a
 * quote, a tab, a colour code, UTF-8) goes to JSON.stringify.
 */
export function jsonString(text: string): string {
  const last = text.length - 1;
  if (last >= 0 && text.charCodeAt(last) === 0x0a) {
    const body = text.slice(0, last);
    return NOT_PLAIN.test(body) ? JSON.stringify(text) : `"${body}\\n"`;
  }
  return NOT_PLAIN.test(text) ? JSON.stringify(text) : `"${text}"`;
}

/**
 * JSON.stringify(line), byte for byte, without the generic object walk: the
 * keys are fixed, so only the string values are serialised (`out` by
 * jsonString). `timeJson` is the already-quoted time when the caller has it.
 */
function lineJsonText(level: string, pos: number, out: string, timeJson: string, args: Record<string, unknown> | undefined): string {
  const levelJson = level === 'info' ? '"info"' : JSON.stringify(level);
  const posJson = Number.isFinite(pos) ? String(pos) : 'null';
  const argsJson = args === undefined ? undefined : JSON.stringify(args);
  return `{"level":${levelJson},"pos":${posJson},"out":${jsonString(out)},"time":${timeJson}${argsJson === undefined ? '' : `,"args":${argsJson}`}}`;
}

/** Encodes a normalised line as its SSE event bytes (WHATWG HTML §9.2: `id`, `data`, blank line). */
export function encodeLine(seq: number, offset: number, line: LogLine): StoredLine {
  const json = lineJsonText(line.level, line.pos, line.out, JSON.stringify(line.time), line.args);
  const head = `id: ${seq}\ndata: `;
  const event = Buffer.from(`${head}${json}\n\n`, 'utf8');
  const bytes = Buffer.from(line.out, 'utf8');
  return new EncodedLine(seq, offset, bytes.length, event, 0, event.length, head.length, { bytes, firstOffset: offset });
}

/** The line's JSON bytes (a view of its event's buffer). */
export function lineJson(line: StoredLine): Buffer {
  return line.eventRun.subarray(line.eventStart + line.jsonStart, line.eventStart + line.eventBytes - 2);
}

/** Copies the line's JSON (what lineJson views) into `target` at `at`, without making the view; returns the bytes copied. */
export function copyJson(line: StoredLine, target: Buffer, at: number): number {
  return line.eventRun.copy(target, at, line.eventStart + line.jsonStart, line.eventStart + line.eventBytes - 2);
}

export function decodeLine(line: StoredLine): LogLine {
  return JSON.parse(lineJson(line).toString('utf8')) as LogLine;
}

/**
 * The run holding the line's text bytes (its `out`): the one encoded at push
 * or per chunk, or the text decoded from the JSON on first use and kept on
 * the line as a run of its own, which every reader then shares.
 */
function textRun(line: StoredLine): TextRun {
  line.texts ??= { bytes: Buffer.from(decodeLine(line).out, 'utf8'), firstOffset: line.offset };
  return line.texts;
}

/**
 * The text of consecutive lines as the pieces of one socket write. The lines
 * of one run (a push, a chunk) are one slice of its buffer, found by a binary
 * search for the run's last line in `lines` (a run is a range of consecutive
 * seqs, so its lines are adjacent): the cost is per run, not per line. A batch
 * that spans several runs is several views, not a copy: a reader behind the
 * head reads batches of many small pushes (a livelog producer's), and a
 * hundred of them each concatenating 256 KiB a batch was most of what the
 * server did. Past MAX_PIECES runs (lines rebuilt one by one) they are joined.
 */
export function textPieces(lines: readonly StoredLine[]): readonly Buffer[] {
  return sharedPieces(textPiecesOf, lines, textPiece);
}

/** The text of consecutive lines as one buffer (a copy when they span several runs). */
export function joinText(lines: readonly StoredLine[]): Buffer {
  return joined(textPieces(lines));
}

/**
 * Each batch's pieces, while someone holds the batch: the viewers woken by a
 * push read one shared array (LineRing.slice), so the first finds its runs and
 * the others take the result. Weak: they live no longer than the batch, which
 * the ring lets go at its next append.
 */
const textPiecesOf = new WeakMap<readonly StoredLine[], readonly Buffer[]>();
const eventPiecesOf = new WeakMap<readonly StoredLine[], readonly Buffer[]>();

/** Pieces one socket write takes as they are (each is a chunk of its own on a chunked HTTP response). */
const MAX_PIECES = 16;

type RunPiece = (lines: readonly StoredLine[], i: number) => { piece: Buffer; next: number };

/** The batch's pieces from `cache`, or found now (one per run; joined past MAX_PIECES) and kept there. */
function sharedPieces(cache: WeakMap<readonly StoredLine[], readonly Buffer[]>, lines: readonly StoredLine[], piece: RunPiece): readonly Buffer[] {
  let pieces = cache.get(lines);
  if (pieces === undefined) {
    const found = runPieces(lines, piece);
    // A join is not kept: the ring keeps batches (LineRing.slices), and a copy of each would be memory nobody counts.
    if (found.length > MAX_PIECES) return [Buffer.concat(found)];
    pieces = found;
    cache.set(lines, pieces);
  }
  return pieces;
}

function joined(pieces: readonly Buffer[]): Buffer {
  if (pieces.length === 0) return EMPTY;
  return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
}

/** Lines i..j of one run as one view: their text bytes. */
function textPiece(lines: readonly StoredLine[], i: number): { piece: Buffer; next: number } {
  const first = lines[i]!;
  const run = textRun(first);
  const last = lines[runEnd(lines, i, run)]!;
  return { piece: run.bytes.subarray(first.offset - run.firstOffset, last.offset + last.textBytes - run.firstOffset), next: i + last.seq - first.seq + 1 };
}

/** Lines i..j of one run as one view of their events; a line of no run (rebuilt from a backend's JSON) is its own. */
function eventPiece(lines: readonly StoredLine[], i: number): { piece: Buffer; next: number } {
  const first = lines[i]!;
  const j = first.texts === undefined ? i : runEnd(lines, i, first.texts);
  const last = lines[j]!;
  return { piece: first.eventRun.subarray(first.eventStart, last.eventStart + last.eventBytes), next: j + 1 };
}

function runPieces(lines: readonly StoredLine[], piece: RunPiece): Buffer[] {
  const pieces: Buffer[] = [];
  for (let i = 0; i < lines.length;) {
    const found = piece(lines, i);
    pieces.push(found.piece);
    i = found.next;
  }
  return pieces;
}

const EMPTY = Buffer.alloc(0);

/** Rebuilds a stored line from JSON a backend kept (e.g. a Redis entry), without re-serialising. */
export function storedLineFromJson(seq: number, offset: number, textBytes: number, json: string): StoredLine {
  const head = `id: ${seq}\ndata: `;
  const event = Buffer.from(`${head}${json}\n\n`, 'utf8');
  return new EncodedLine(seq, offset, textBytes, event, 0, event.length, head.length, undefined);
}

/**
 * `out` as its text is joined to the next line's in a run: a lone high
 * surrogate at its end would pair with a lone low surrogate at the start of
 * the next line and make one 4-byte character of what are two 3-byte ones
 * (U+FFFD each) when each line is encoded alone, which put every later
 * line's text offset off. It is written as U+FFFD, the bytes UTF-8 makes of
 * it alone. The line's JSON keeps the surrogate's escape.
 */
function joinableText(out: string): string {
  const last = out.charCodeAt(out.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? `${out.slice(0, -1)}\ufffd` : out;
}

/**
 * Normalises and encodes a batch of pushed lines with consecutive seqs from
 * `firstSeq` (the same bytes as normaliseLine + encodeLine per line), as one
 * block (line-block.ts): all the events, then all the texts, in one buffer,
 * and where each line ends in one typed array. One allocation and one UTF-8
 * write per push instead of one per line, no object per line, and a viewer
 * that reads consecutive lines of one push sends them without copying
 * (see `eventPieces`).
 */
export function encodeBlock(firstSeq: number, firstOffset: number, inputs: readonly LineInput[], maxLineBytes: number, now: string): LineBlock {
  const n = inputs.length;
  const nowJson = JSON.stringify(now);
  const outs: string[] = new Array<string>(n);
  const events: string[] = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const input = inputs[i]!;
    const seq = firstSeq + i;
    const out = truncateOut(input.out, maxLineBytes);
    const time = input.time;
    const json = lineJsonText(input.level ?? 'info', input.pos ?? seq, out, time === undefined ? nowJson : JSON.stringify(time), input.args);
    outs[i] = out;
    events[i] = `id: ${seq}\ndata: ${json}\n\n`;
  }
  return blockOf(firstSeq, firstOffset, events, outs);
}

/**
 * Lines with consecutive seqs from `firstSeq` and text offsets from
 * `firstOffset`, given their SSE events and their `out`, as one block: the
 * events, then the texts, in one buffer (one allocation and one UTF-8
 * write), and where each line ends. A push (encodeBlock) and an archived
 * chunk read back (chunk-format.ts decodeChunk) are both made here.
 */
export function blockOf(firstSeq: number, firstOffset: number, events: readonly string[], outs: readonly string[]): LineBlock {
  const n = events.length;
  let text = '';
  let outText = '';
  for (let i = 0; i < n; i++) {
    text += events[i]!;
    outText += joinableText(outs[i]!);
  }
  const bytes = Buffer.from(text + outText, 'utf8');
  // Every character below U+0080 is one byte, and only those: equal lengths
  // mean string indexes are byte offsets (the common, ASCII case).
  const ascii = bytes.length === text.length + outText.length;
  const textStart = ascii ? text.length : Buffer.byteLength(text, 'utf8');
  const texts: TextRun = { bytes: bytes.subarray(textStart), firstOffset };
  const ends = new Uint32Array(2 * n);
  let eventEnd = 0;
  let textEnd = 0;
  for (let i = 0; i < n; i++) {
    eventEnd += ascii ? events[i]!.length : Buffer.byteLength(events[i]!, 'utf8');
    textEnd += ascii ? outs[i]!.length : Buffer.byteLength(outs[i]!, 'utf8');
    ends[2 * i] = eventEnd;
    ends[2 * i + 1] = textEnd;
  }
  return new LineBlock(firstSeq, n, bytes, texts, ends);
}

/** The last index from `i` whose line is in `run` (binary search: a run's lines are adjacent in seq order). */
function runEnd(lines: readonly StoredLine[], i: number, run: TextRun): number {
  let lo = i;
  let hi = lines.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (lines[mid]!.texts === run) lo = mid;
    else hi = mid - 1;
  }
  // Lines i..lo are the run's and, when their seqs are consecutive, every line between them is too.
  return lines[lo]!.seq - lines[i]!.seq === lo - i ? lo : i;
}

/**
 * The events of consecutive lines as the pieces of one socket write: the
 * lines of one run (a push, a chunk: their events lie back to back in one
 * buffer) are one view of it, found per run, not per line (see textPieces).
 */
export function eventPieces(lines: readonly StoredLine[]): readonly Buffer[] {
  return sharedPieces(eventPiecesOf, lines, eventPiece);
}

/** The events of consecutive lines as one buffer (a copy when they span several runs). */
export function joinEvents(lines: readonly StoredLine[]): Buffer {
  return joined(eventPieces(lines));
}
