// The snapshot format, and its one reader and one writer (docs/PROTOCOL.md,
// "Snapshots"). A snapshot is the blob a stream is written to when it closes
// with ?snapshot=true: NDJSON, one line object per row, the row number being
// the line's seq. A stream whose ring had trimmed its oldest lines is
// snapshotted from its oldest retained line; the Content-Type then carries
// that line's seq and text offset as parameters
// (`application/x-ndjson; first-seq=150; first-offset=9000`), so a blob keeps
// the ids and byte offsets the live stream had. Any other blob (plain text
// uploaded by a runner) is read the same way: each row that is not a line
// object is a line of text.
import type { Readable } from 'node:stream';
import { truncateOut } from '../../stream/line-codec.ts';
import type { SnapshotTextCache, TextPiece } from './snapshot-texts.ts';

const CR = 0x0d;
const NL = 0x0a;
const LEADING_BRACE = /^\s*\{/;

export function snapshotContentType(firstSeq: number, firstOffset: number): string {
  return firstSeq === 0 && firstOffset === 0 ? 'application/x-ndjson' : `application/x-ndjson; first-seq=${firstSeq}; first-offset=${firstOffset}`;
}

/** Where a snapshot starts in its stream (0, 0 for any blob without the parameters). */
function snapshotOrigin(contentType: string): { firstSeq: number; firstOffset: number } {
  const param = (name: string) => {
    const m = new RegExp(`;\\s*${name}=(\\d{1,15})`).exec(contentType);
    return m ? Number(m[1]) : 0;
  };
  return { firstSeq: param('first-seq'), firstOffset: param('first-offset') };
}

/** A blob to read as a log: its type, when it was written, and how to open its body (again). */
export interface SnapshotSource {
  contentType: string;
  created: string;
  /** Opens the body; a tail of the last N lines or bytes reads it twice rather than buffering it. */
  open(): Promise<Readable | null>;
  /** Where its text is decoded once for every raw reader: the cache, the blob's name and etag, and its size. */
  shared?: { cache: SnapshotTextCache; key: string; size: number };
}

/** The text of a log is decoded into pieces of about this many characters (one socket write each). */
const TEXT_PIECE_CHARS = 64 * 1024;

/**
 * Reads a snapshot (or any blob) as rows, bounded per row whatever was
 * uploaded: a row over the limit is cut, so memory per reader stays bounded.
 */
export class SnapshotReader {
  readonly firstSeq: number;
  readonly firstOffset: number;
  private readonly maxRowBytes: number;

  constructor(
    private readonly source: SnapshotSource,
    private readonly maxLineBytes: number,
  ) {
    ({ firstSeq: this.firstSeq, firstOffset: this.firstOffset } = snapshotOrigin(source.contentType));
    // A row is a line's JSON: its `out` escaped (up to twice as long) plus the other fields.
    this.maxRowBytes = maxLineBytes * 2 + 4096;
  }

  /** Each row with its seq (a view that is valid until the next row: copy what you keep). Stopping early closes the body. */
  async *rows(): AsyncGenerator<{ seq: number; row: Buffer }> {
    const body = await this.source.open();
    if (body === null) return;
    let seq = this.firstSeq;
    try {
      for await (const row of splitRows(body, this.maxRowBytes)) yield { seq: seq++, row };
    } finally {
      body.destroy();
    }
  }

  /**
   * The log's text in pieces of about 64 KiB, each with its byte offset in the
   * log: decoded once and shared with the log's other raw readers when the
   * source says where (snapshot-texts.ts), decoded here otherwise.
   */
  async *texts(): AsyncGenerator<TextPiece> {
    const shared = this.source.shared;
    const cached = shared?.cache.texts(shared.key, shared.size, () => this.decodeTexts());
    yield* cached ?? this.decodeTexts();
  }

  /** The log text's length (its end offset): one pass over the texts, shared with other readers when cached. */
  async length(): Promise<number> {
    let end = this.firstOffset;
    for await (const { offset, text } of this.texts()) end = offset + text.length;
    return end;
  }

  /** The byte offset in the log of the row with this seq (the first row's when the seq is older); undefined past the end. */
  async offsetOfRow(seq: number): Promise<number | undefined> {
    let offset = this.firstOffset;
    let at = this.firstSeq;
    for await (const { row } of this.rows()) {
      if (at >= seq) return offset;
      offset += Buffer.byteLength(rowText(row), 'utf8');
      at++;
    }
    return undefined;
  }

  private async *decodeTexts(): AsyncGenerator<TextPiece> {
    let offset = this.firstOffset;
    let parts: string[] = [];
    let chars = 0;
    for await (const { row } of this.rows()) {
      const out = rowText(row);
      parts.push(out);
      chars += out.length;
      if (chars >= TEXT_PIECE_CHARS) {
        const text = Buffer.from(parts.join(''), 'utf8');
        yield { offset, text };
        offset += text.length;
        parts = [];
        chars = 0;
      }
    }
    if (chars > 0) yield { offset, text: Buffer.from(parts.join(''), 'utf8') };
  }

  /** The line JSON of one row, as an SSE event's data. */
  lineJson(row: Buffer, seq: number): string {
    return rowToLineJson(row, seq, this.source.created, this.maxLineBytes);
  }
}

/** Splits a body on LF into rows of at most `maxRowBytes` (the rest of a longer row is dropped). */
async function* splitRows(body: Readable, maxRowBytes: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let held = 0;
  let skipping = false;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NL, start);
      const piece = chunk.subarray(start, nl === -1 ? chunk.length : nl);
      if (!skipping) {
        const room = maxRowBytes - held;
        if (piece.length > room) {
          pending.push(piece.subarray(0, room));
          held += room;
          skipping = true;
        } else {
          pending.push(piece);
          held += piece.length;
        }
      }
      if (nl === -1) break;
      // A row inside one chunk goes out as a view of it (no copy per row).
      yield pending.length === 1 ? pending[0]! : Buffer.concat(pending, held);
      pending = [];
      held = 0;
      skipping = false;
      start = nl + 1;
    }
  }
  if (held > 0) yield Buffer.concat(pending, held);
}

/**
 * The line JSON for one row. Rows are split on LF, so the one thing that
 * can break SSE framing is a raw CR, which JSON allows between tokens and SSE
 * reads as a line end (WHATWG HTML §9.2.6); an uploaded row may also carry an
 * `out` over the line limit. A row with neither (every row a snapshot writes,
 * but for lines near the limit) goes out as it is; any other is written out
 * again by JSON.stringify, which emits no CR, with its `out` cut to the limit.
 */
function rowToLineJson(row: Buffer, seq: number, created: string, maxLineBytes: number): string {
  const text = row.toString('utf8');
  if (LEADING_BRACE.test(text)) {
    try {
      const v = JSON.parse(text) as { out?: unknown };
      if (typeof v === 'object' && v !== null && typeof v.out === 'string') {
        if (row.length <= maxLineBytes && !row.includes(CR)) return text;
        v.out = truncateOut(v.out, maxLineBytes);
        return JSON.stringify(v);
      }
    } catch {
      // not JSON: served as text below
    }
  }
  return JSON.stringify({ level: 'info', pos: seq, out: truncateOut(`${text}\n`, maxLineBytes), time: created });
}

/** A row's text: a line object's `out`, or the row itself and its newline (a plain text blob is its own text). */
function rowText(row: Buffer): string {
  const s = row.toString('utf8');
  if (LEADING_BRACE.test(s)) {
    try {
      const v = JSON.parse(s) as { out?: unknown };
      if (typeof v?.out === 'string') return v.out;
    } catch {
      // not a line: the row itself is text
    }
  }
  return `${s}\n`;
}
