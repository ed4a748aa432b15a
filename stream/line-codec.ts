// Turns producer input into stored lines, once per line (docs/PROTOCOL.md §4).
import type { LineInput, LogLine, StoredLine } from './log-stream.ts';

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
 * JSON.stringify(line), byte for byte, without the generic object walk: the
 * keys are fixed, so only the string values go through the (fast) string
 * serialiser. `timeJson` is the already-quoted time when the caller has it.
 */
function lineJsonText(level: string, pos: number, out: string, timeJson: string, args: Record<string, unknown> | undefined): string {
  const levelJson = level === 'info' ? '"info"' : JSON.stringify(level);
  const posJson = Number.isFinite(pos) ? String(pos) : 'null';
  const argsJson = args === undefined ? undefined : JSON.stringify(args);
  return `{"level":${levelJson},"pos":${posJson},"out":${JSON.stringify(out)},"time":${timeJson}${argsJson === undefined ? '' : `,"args":${argsJson}`}}`;
}

/** Encodes a normalised line as its SSE event bytes (WHATWG HTML §9.2: `id`, `data`, blank line). */
export function encodeLine(seq: number, offset: number, line: LogLine): StoredLine {
  const json = lineJsonText(line.level, line.pos, line.out, JSON.stringify(line.time), line.args);
  const head = `id: ${seq}\ndata: `;
  const event = Buffer.from(`${head}${json}\n\n`, 'utf8');
  return { seq, offset, textBytes: Buffer.byteLength(line.out, 'utf8'), event, jsonStart: head.length };
}

/** The line's JSON bytes (shares memory with the event). */
export function lineJson(line: StoredLine): Buffer {
  return line.event.subarray(line.jsonStart, line.event.length - 2);
}

export function decodeLine(line: StoredLine): LogLine {
  return JSON.parse(lineJson(line).toString('utf8')) as LogLine;
}

/** Rebuilds a stored line from JSON a backend kept (e.g. a Redis entry), without re-serialising. */
export function storedLineFromJson(seq: number, offset: number, textBytes: number, json: string): StoredLine {
  const head = `id: ${seq}\ndata: `;
  return { seq, offset, textBytes, event: Buffer.from(`${head}${json}\n\n`, 'utf8'), jsonStart: head.length };
}

/**
 * Normalises and encodes a batch of pushed lines with consecutive seqs from
 * `firstSeq` (the same bytes as normaliseLine + encodeLine per line). All the
 * events share one buffer, each line's `event` a view into it: one allocation
 * and one UTF-8 write per push instead of one per line, and a viewer that
 * reads consecutive lines of one push can send them without copying
 * (see `joinEvents`).
 */
export function encodeLines(firstSeq: number, firstOffset: number, inputs: readonly LineInput[], maxLineBytes: number, now: string): StoredLine[] {
  const n = inputs.length;
  if (n === 0) return [];
  const nowJson = JSON.stringify(now);
  const outs: string[] = new Array<string>(n);
  const events: string[] = new Array<string>(n);
  const heads: number[] = new Array<number>(n);
  let text = '';
  for (let i = 0; i < n; i++) {
    const input = inputs[i]!;
    const seq = firstSeq + i;
    const out = truncateOut(input.out, maxLineBytes);
    const time = input.time;
    const json = lineJsonText(input.level ?? 'info', input.pos ?? seq, out, time === undefined ? nowJson : JSON.stringify(time), input.args);
    const head = `id: ${seq}\ndata: `;
    const event = `${head}${json}\n\n`;
    outs[i] = out;
    events[i] = event;
    heads[i] = head.length;
    text += event;
  }
  const bytes = Buffer.from(text, 'utf8');
  // Every character below U+0080 is one byte, and only those: equal lengths
  // mean string indexes are byte offsets (the common, ASCII case).
  const ascii = bytes.length === text.length;
  const stored: StoredLine[] = new Array<StoredLine>(n);
  let at = 0;
  let offset = firstOffset;
  for (let i = 0; i < n; i++) {
    const event = events[i]!;
    const size = ascii ? event.length : Buffer.byteLength(event, 'utf8');
    const textBytes = ascii ? outs[i]!.length : Buffer.byteLength(outs[i]!, 'utf8');
    stored[i] = { seq: firstSeq + i, offset, textBytes, event: bytes.subarray(at, at + size), jsonStart: heads[i]! };
    at += size;
    offset += textBytes;
  }
  return stored;
}

/** Where a backend that already joined a read's events leaves them on the `lines` array (see joinEvents). */
const JOINED_EVENTS: unique symbol = Symbol('log-service.joinedEvents');
type LinesWithEvents = readonly StoredLine[] & { [JOINED_EVENTS]?: Buffer };

/** Marks `lines` with their joined events (for joinEvents); returns `lines`. */
export function withJoinedEvents<T extends readonly StoredLine[]>(lines: T, events: Buffer): T {
  (lines as LinesWithEvents)[JOINED_EVENTS] = events;
  return lines;
}

/**
 * The events of consecutive lines as one buffer for one socket write. A
 * backend may have joined them already (the memory ring does it per run of
 * lines pushed together, without copying); otherwise adjacent events in one
 * buffer are sent as one view and separate runs are concatenated.
 */
export function joinEvents(lines: readonly StoredLine[]): Buffer {
  const joined = (lines as LinesWithEvents)[JOINED_EVENTS];
  if (joined !== undefined) return joined;
  const first = lines[0];
  if (first === undefined) return Buffer.alloc(0);
  if (lines.length === 1) return first.event;
  const runs: Buffer[] = [];
  let total = 0;
  let base = first.event;
  let end = base.byteOffset + base.length;
  for (let i = 1; i < lines.length; i++) {
    const e = lines[i]!.event;
    if (e.buffer === base.buffer && e.byteOffset === end) {
      end += e.length;
      continue;
    }
    runs.push(Buffer.from(base.buffer, base.byteOffset, end - base.byteOffset));
    total += end - base.byteOffset;
    base = e;
    end = e.byteOffset + e.length;
  }
  runs.push(Buffer.from(base.buffer, base.byteOffset, end - base.byteOffset));
  total += end - base.byteOffset;
  return runs.length === 1 ? runs[0]! : Buffer.concat(runs, total);
}
