// Serves a finished log from its snapshot blob with the same SSE events a live
// tail sends (DESIGN §6: one endpoint from first line to last). The blob is
// NDJSON of lines; its row number is the line's id. Rows that are not line
// objects (a plain text blob) are served as text lines, and over-long rows are
// cut, so memory per viewer stays bounded whatever was uploaded.
import type { Readable } from 'node:stream';
import { truncateOut } from '../stream/line-codec.ts';
import type { CursorStart } from '../stream/log-stream.ts';
import type { SseWriter } from './sse-writer.ts';

const BATCH_LINES = 500;
const CR = 0x0d;
const LEADING_BRACE = /^\s*\{/;
/** Characters per write (UTF-16 units; at most 3 bytes each on the wire). */
const BATCH_BYTES = 256 * 1024;

export async function* blobRows(body: Readable, maxRowBytes: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let held = 0;
  let skipping = false;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      const piece = chunk.subarray(start, nl === -1 ? chunk.length : nl);
      if (!skipping) {
        const room = maxRowBytes - held;
        if (piece.length > room) {
          pending.push(piece.subarray(0, room));
          held += room;
          skipping = true; // the rest of this row is dropped
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
 * The line JSON for one blob row. Rows are split on LF, so the one thing that
 * can break SSE framing is a raw CR, which JSON allows between tokens and SSE
 * reads as a line end (WHATWG HTML §9.2.6); an uploaded row may also carry an
 * `out` over the line limit. A row with neither (every row a snapshot writes,
 * but for lines near the limit) goes out as it is; any other is written out
 * again by JSON.stringify, which emits no CR, with its `out` cut to the limit.
 */
export function rowToLineJson(row: Buffer, seq: number, created: string, maxLineBytes: number): string {
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

/**
 * Where a snapshot starts in its stream. A stream whose ring had trimmed its
 * oldest lines is snapshotted from its oldest retained line; the snapshot's
 * Content-Type then carries that line's seq and text offset as parameters
 * (`application/x-ndjson; first-seq=150; first-offset=9000`) so a blob keeps
 * the ids and byte offsets the live stream had.
 */
export function snapshotOrigin(contentType: string): { firstSeq: number; firstOffset: number } {
  const param = (name: string) => {
    const m = new RegExp(`;\\s*${name}=(\\d{1,15})`).exec(contentType);
    return m ? Number(m[1]) : 0;
  };
  return { firstSeq: param('first-seq'), firstOffset: param('first-offset') };
}

export function snapshotContentType(firstSeq: number, firstOffset: number): string {
  return firstSeq === 0 && firstOffset === 0
    ? 'application/x-ndjson'
    : `application/x-ndjson; first-seq=${firstSeq}; first-offset=${firstOffset}`;
}

export interface BlobSource {
  contentType: string;
  created: string;
  /** Opens the blob's body (again): a tail of the last N lines reads it twice rather than buffering it. */
  open(): Promise<Readable | null>;
}

export async function serveBlobAsStream(source: BlobSource, start: CursorStart, sse: SseWriter, maxLineBytes: number): Promise<void> {
  const { firstSeq } = snapshotOrigin(source.contentType);
  const maxRow = maxLineBytes * 2 + 4096;
  let from: number;
  if (start.kind === 'tail') {
    // First pass: count the rows (nothing kept); the second pass sends the last N.
    const body = await source.open();
    if (body === null) return;
    let rows = 0;
    for await (const row of blobRows(body, maxRow)) {
      void row;
      rows++;
      if (sse.isClosed) { body.destroy(); return; }
    }
    from = firstSeq + Math.max(0, rows - start.lines);
  } else {
    from = start.kind === 'after' ? start.seq + 1 : 0;
    // DESIGN §6: lines the viewer needs that the snapshot does not hold are reported, not skipped.
    if (from < firstSeq) {
      await sse.dropped(from, firstSeq - 1);
      from = firstSeq;
    }
  }
  const body = await source.open();
  if (body === null) return;
  let seq = firstSeq;
  let out: string[] = [];
  let held = 0;
  for await (const row of blobRows(body, maxRow)) {
    if (sse.isClosed) { body.destroy(); return; }
    if (seq >= from) {
      const event = `id: ${seq}\ndata: ${rowToLineJson(row, seq, source.created, maxLineBytes)}\n\n`;
      out.push(event);
      held += event.length;
    }
    seq++;
    // The same bound as a live tail's batch (tail-loop.ts): a viewer that stops
    // reading holds one batch plus its socket buffer, however long the rows.
    if (out.length >= BATCH_LINES || held >= BATCH_BYTES) {
      await sse.write(out.join(''));
      out = [];
      held = 0;
    }
  }
  if (out.length > 0) await sse.write(out.join(''));
}
