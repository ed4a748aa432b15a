// The tailsrv header grammar (docs/TAILSRV.md §2). Pure parsing, no I/O: the
// same grammar serves files (`log-service tailsrv --dir`) and log streams (the
// main server's tail port), so both live here, below handler/.
//
//   list
//   stream <path>                      from the current end
//   stream <path> from byte N          from byte N (past the end: wait for it)
//   stream <path> from byte -N         the last N bytes (the whole file when shorter)
//   stream <path> from line N          from the first byte of line N (lines count from 1)
//   stream <path> from start | end
//
// and tailsrv's single-file header: a signed decimal (0 whole file, N from
// byte N, -N the last N bytes), surrounding whitespace trimmed.

/** Where a tail starts. */
export type TailStart =
  /** From the first byte there is (byte 0 of a file; the oldest byte a log stream still holds). */
  | { kind: 'start' }
  /** From this byte; past the end, the tail waits until the file reaches it. */
  | { kind: 'byte'; offset: number }
  /** The last `bytes` bytes as of the connection (the whole file when shorter). */
  | { kind: 'last'; bytes: number }
  /** From the first byte of this line, counted from 1 (waits until the line exists). */
  | { kind: 'line'; line: number }
  /** From the end as of the connection: only what is appended from now on. */
  | { kind: 'end' };

export type TailRequest = { kind: 'list' } | { kind: 'stream'; path: string; start: TailStart };

/** A header the grammar refuses; `message` is the reason sent after `error: `. */
export class HeaderError extends Error {}

/** Offsets and line numbers are at most 15 digits: every such value is an exact double. */
const NUMBER = /^[+-]?\d{1,15}$/;
/** The last " from " of a stream header: a path may contain the word, the clause is at the end. */
const FROM_CLAUSE = /^(.*\S)\s+from\s+(.+)$/s;

/** The multi-file grammar. `line` is one header line without its newline. */
export function parseTailRequest(line: string): TailRequest {
  const header = line.trim();
  if (header === '') throw new HeaderError('empty header: send "list" or "stream <path> [from …]"');
  if (header === 'list') return { kind: 'list' };
  const m = /^stream\s+(.+)$/s.exec(header);
  if (m === null) throw new HeaderError(`unknown request "${excerpt(header)}": send "list" or "stream <path> [from …]"`);
  const rest = m[1]!;
  const clause = FROM_CLAUSE.exec(rest);
  if (clause === null) return { kind: 'stream', path: rest, start: { kind: 'end' } };
  return { kind: 'stream', path: clause[1]!, start: parseFrom(clause[2]!.trim()) };
}

function parseFrom(from: string): TailStart {
  if (from === 'start') return { kind: 'start' };
  if (from === 'end') return { kind: 'end' };
  const m = /^(byte|line)\s+(\S+)$/.exec(from);
  if (m === null) throw new HeaderError(`cannot read "from ${excerpt(from)}": use "from byte N", "from byte -N", "from line N", "from start" or "from end"`);
  const value = parseNumber(m[2]!);
  if (m[1] === 'byte') return value < 0 || Object.is(value, -0) ? lastBytes(-value) : { kind: 'byte', offset: value };
  if (value < 1) throw new HeaderError('lines are counted from 1: "from line 1" is the first line');
  return { kind: 'line', line: value };
}

/** tailsrv's single-file header: a signed decimal, surrounding whitespace (a `\r` too) trimmed. */
export function parseSignedOffset(line: string): TailStart {
  const value = parseNumber(line.trim());
  if (value === 0 && !Object.is(value, -0)) return { kind: 'start' };
  return value < 0 || Object.is(value, -0) ? lastBytes(-value) : { kind: 'byte', offset: value };
}

function lastBytes(bytes: number): TailStart {
  // "the last 0 bytes" is the end: only what is appended from now on.
  return bytes === 0 ? { kind: 'end' } : { kind: 'last', bytes };
}

function parseNumber(text: string): number {
  if (!NUMBER.test(text)) throw new HeaderError(`"${excerpt(text)}" is not a decimal number of at most 15 digits`);
  return Number(text);
}

/** Enough of what the client sent to recognise it, on one line. */
function excerpt(text: string): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f]/g, '?');
  return flat.length > 60 ? `${flat.slice(0, 60)}…` : flat;
}
