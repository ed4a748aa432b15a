// Turns producer input into stored lines, once per line (DESIGN §4).
import type { LineInput, LogLine, StoredLine } from './log-stream.ts';

const TRUNCATION_MARKER = '… [log-service: line truncated]';

/**
 * Cuts `out` to at most `maxBytes` UTF-8 bytes on a character boundary and
 * marks the cut so readers can see it (DESIGN §4: visible marker). A trailing
 * newline is kept so the log text keeps its line structure.
 */
export function truncateOut(out: string, maxBytes: number): string {
  if (out.length * 3 <= maxBytes) return out; // cannot exceed: fast path
  const bytes = Buffer.from(out, 'utf8');
  if (bytes.length <= maxBytes) return out;
  let cut = maxBytes;
  // UTF-8 continuation bytes are 10xxxxxx: back up to the start of a character.
  while (cut > 0 && ((bytes[cut] ?? 0) & 0xc0) === 0x80) cut--;
  const newline = out.endsWith('\n') ? '\n' : '';
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

/** Encodes a normalised line as its SSE event bytes (WHATWG HTML §9.2: `id`, `data`, blank line). */
export function encodeLine(seq: number, offset: number, line: LogLine): StoredLine {
  const json = JSON.stringify(line);
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
