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
import { lineJson, truncateOut } from '../../stream/line-codec.ts';
import type { StoredLine } from '../../stream/log-stream.ts';
import { SNAPSHOT_WRITE_CHUNK_BYTES } from './batch.ts';

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

/** The snapshot body of a stream's lines: NDJSON of their JSON, in chunks of about 64 KiB. */
export async function* snapshotBody(lines: AsyncIterable<StoredLine>): AsyncGenerator<Buffer> {
  const newline = Buffer.from('\n');
  let parts: Buffer[] = [];
  let size = 0;
  for await (const line of lines) {
    const json = lineJson(line);
    parts.push(json, newline);
    size += json.length + 1;
    if (size >= SNAPSHOT_WRITE_CHUNK_BYTES) {
      yield Buffer.concat(parts, size);
      parts = [];
      size = 0;
    }
  }
  if (size > 0) yield Buffer.concat(parts, size);
}

/** A blob to read as a log: its type, when it was written, and how to open its body (again). */
export interface SnapshotSource {
  contentType: string;
  created: string;
  /** Opens the body; a tail of the last N lines or bytes reads it twice rather than buffering it. */
  open(): Promise<Readable | null>;
}

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

  /** Each row with its seq. Stopping early closes the body. */
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

  /** Each row's text with its byte offset in the log. */
  async *texts(): AsyncGenerator<{ offset: number; text: Buffer }> {
    let offset = this.firstOffset;
    for await (const { row } of this.rows()) {
      const text = rowText(row);
      yield { offset, text };
      offset += text.length;
    }
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
      yield Buffer.concat(pending, held);
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
function rowText(row: Buffer): Buffer {
  const s = row.toString('utf8');
  let out = `${s}\n`;
  try {
    const v = JSON.parse(s) as { out?: unknown };
    if (typeof v?.out === 'string') out = v.out;
  } catch {
    // not a line: the row itself is text
  }
  return Buffer.from(out, 'utf8');
}
