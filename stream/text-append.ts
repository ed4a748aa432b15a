// Byte appends (docs/PROTOCOL.md §7.2): text that arrives as bytes, cut
// anywhere, becomes lines as it arrives. Whole lines are pushed; the last
// partial line is held in the stream (its `pending` text) until its newline,
// or until the stream closes, so SSE viewers see whole lines. The log's
// length for an appender counts the held bytes too, so an offset append
// (PATCH …/raw at byte N) is checked against everything the producer sent.
//
// The backends store the held bytes beside the stream and take a push only
// when the stream's text end and held bytes are still what the appender read
// (PushOptions.textGuard): two appenders racing on one offset, on one
// instance or two over Redis, cannot both win.
import { ServiceError } from '../foundation/errors.ts';
import type { LineInput, LogStream, TextState } from './log-stream.ts';

/** Attempts before an append without an offset gives up (another appender kept winning the race). */
const APPEND_ATTEMPTS = 32;

export interface TextAppendResult {
  /** False when `at` was not the log's length: nothing was stored. */
  appended: boolean;
  /** The log's length for appenders after the call: whole lines and the held partial line. */
  length: number;
}

/** Marks a TextGuardConflict across module copies (a backend loaded by a dynamic import may hold its own copy of this class). */
const TEXT_GUARD_CONFLICT = Symbol.for('log-service.TextGuardConflict');

/** Thrown by a backend's push when its textGuard no longer holds: the appender reads the state again. */
export class TextGuardConflict extends Error {
  readonly [TEXT_GUARD_CONFLICT] = true;

  constructor() {
    super('the stream text changed since it was read');
  }
}

/** Whether `err` is a TextGuardConflict (by its mark, not instanceof: see TEXT_GUARD_CONFLICT). */
export function isTextGuardConflict(err: unknown): err is TextGuardConflict {
  return err instanceof Error && (err as unknown as Record<symbol, unknown>)[TEXT_GUARD_CONFLICT] === true;
}

/** The length an appender sees: the lines' text and the held partial line. */
export function appendLength(state: TextState): number {
  return state.textEnd + state.pending.length;
}

/**
 * Appends `bytes` at the end of the stream's text; with `at`, only when `at`
 * is the log's length (else `appended: false` and the length). Throws
 * LOGSVC_STREAM_NOT_FOUND when the stream is not open.
 */
export async function appendText(stream: LogStream, name: string, bytes: Buffer, maxLineBytes: number, at?: number): Promise<TextAppendResult> {
  const textState = stream.textState;
  if (textState === undefined) throw new ServiceError('LOGSVC_INTERNAL', 'this stream backend takes no byte appends');
  for (let attempt = 0; attempt < APPEND_ATTEMPTS; attempt++) {
    const state = await textState.call(stream, name);
    if (state === null || !state.open) throw new ServiceError('LOGSVC_STREAM_NOT_FOUND', `no open stream "${name}": open it first (POST)`);
    const length = appendLength(state);
    if (at !== undefined && at !== length) return { appended: false, length };
    const { lines, pending } = splitText(state.pending, bytes, maxLineBytes);
    try {
      await stream.push(name, lines, { textGuard: { textEnd: state.textEnd, pending: state.pending, next: pending } });
    } catch (err) {
      if (isTextGuardConflict(err)) continue;
      throw err;
    }
    return { appended: true, length: state.textEnd + textBytesOf(lines) + pending.length };
  }
  throw new ServiceError('LOGSVC_CONFLICT', `the append to "${name}" lost ${APPEND_ATTEMPTS} races with other appenders: retry it`);
}

function textBytesOf(lines: LineInput[]): number {
  let total = 0;
  for (const line of lines) total += Buffer.byteLength(line.out, 'utf8');
  return total;
}

/**
 * The held bytes and the new ones as whole lines (each with its `\n`) and the
 * new held partial line. A line, or a partial line, longer than
 * `maxLineBytes` is cut into pieces of at most that many bytes on UTF-8
 * character boundaries, never truncated: the text stays byte for byte what
 * was sent (as long as it is UTF-8: invalid sequences become U+FFFD, as
 * everywhere in the log text).
 */
function splitText(held: Buffer, bytes: Buffer, maxLineBytes: number): { lines: LineInput[]; pending: Buffer } {
  const text = held.length === 0 ? bytes : Buffer.concat([held, bytes]);
  const lines: LineInput[] = [];
  let start = 0;
  for (;;) {
    const newline = text.indexOf(0x0a, start);
    const end = newline === -1 ? text.length : newline + 1;
    // A piece at most maxLineBytes long, ending on a character boundary.
    while (end - start > maxLineBytes) {
      let cut = start + maxLineBytes;
      while (cut > start && (text[cut]! & 0xc0) === 0x80) cut--;
      if (cut === start) cut = start + maxLineBytes;
      lines.push({ out: text.toString('utf8', start, cut) });
      start = cut;
    }
    if (newline === -1) break;
    lines.push({ out: text.toString('utf8', start, end) });
    start = end;
  }
  // Copied: a view would keep the whole request chunk alive while the line waits for its newline.
  return { lines, pending: Buffer.from(text.subarray(start)) };
}
