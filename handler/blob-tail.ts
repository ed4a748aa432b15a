// Serves a finished log from its snapshot blob with the same SSE events a live
// tail sends (DESIGN §6: one endpoint from first line to last). The blob is
// NDJSON of lines; its row number is the line's id. Rows that are not line
// objects (a plain text blob) are served as text lines, and over-long rows are
// cut, so memory per viewer stays bounded whatever was uploaded.
import type { Readable } from 'node:stream';
import { truncateOut } from '../stream/line-codec.ts';
import type { CursorStart } from '../stream/log-stream.ts';
import type { SseWriter } from './sse-writer.ts';

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

/** The line JSON for one blob row: the row itself when it is a line object. */
export function rowToLineJson(row: Buffer, seq: number, created: string, maxLineBytes: number): string {
  const text = row.toString('utf8');
  if (text.startsWith('{')) {
    try {
      const v = JSON.parse(text) as { out?: unknown };
      if (typeof v === 'object' && v !== null && typeof v.out === 'string') return text;
    } catch {
      // not JSON: served as text below
    }
  }
  return JSON.stringify({ level: 'info', pos: seq, out: truncateOut(`${text}\n`, maxLineBytes), time: created });
}

export async function serveBlobAsStream(
  body: Readable, created: string, start: CursorStart, sse: SseWriter, maxLineBytes: number, maxTailLines: number,
): Promise<void> {
  const rows = blobRows(body, maxLineBytes * 2 + 4096);
  const first = start.kind === 'after' ? start.seq + 1 : 0;
  if (start.kind === 'tail') {
    // Keep only the last N rows: bounded by the tail size we allow.
    const keep = Math.min(start.lines, maxTailLines);
    const ring: { seq: number; json: string }[] = [];
    let seq = 0;
    for await (const row of rows) {
      if (keep > 0) {
        ring.push({ seq, json: rowToLineJson(row, seq, created, maxLineBytes) });
        if (ring.length > keep) ring.shift();
      }
      seq++;
    }
    for (const r of ring) await sse.write(`id: ${r.seq}\ndata: ${r.json}\n\n`);
  } else {
    let seq = 0;
    let out: string[] = [];
    for await (const row of rows) {
      if (sse.isClosed) return;
      if (seq >= first) out.push(`id: ${seq}\ndata: ${rowToLineJson(row, seq, created, maxLineBytes)}\n\n`);
      seq++;
      if (out.length >= 500) {
        await sse.write(out.join(''));
        out = [];
      }
    }
    if (out.length > 0) await sse.write(out.join(''));
  }
}
