// A finished log served from its snapshot blob, with the same bytes a live
// tail sends (docs/PROTOCOL.md: one endpoint from first line to last): SSE
// events whose ids are the rows' seqs, or raw text by byte offset. Writes are
// batched by SNAPSHOT_BATCH_ROWS / SNAPSHOT_BATCH_CHARS, the same bound as a
// live batch, so a viewer that stops reading holds one batch plus its socket
// buffer, however long the rows.
import type { CursorStart } from '../../stream/log-stream.ts';
import { SNAPSHOT_BATCH_CHARS, SNAPSHOT_BATCH_ROWS } from './batch.ts';
import type { RawWriter } from './raw-writer.ts';
import type { SnapshotReader } from './snapshot.ts';
import type { SseWriter } from './sse-writer.ts';

export async function snapshotToSse(snapshot: SnapshotReader, start: CursorStart, sse: SseWriter): Promise<void> {
  let from: number;
  if (start.kind === 'tail') {
    // First pass: count the rows (nothing kept); the second pass sends the last N.
    let rows = 0;
    for await (const row of snapshot.rows()) {
      void row;
      rows++;
      if (sse.closed) return;
    }
    from = snapshot.firstSeq + Math.max(0, rows - start.lines);
  } else {
    from = start.kind === 'after' ? start.seq + 1 : 0;
    // Lines the viewer needs that the snapshot does not hold are reported, not skipped.
    if (from < snapshot.firstSeq) {
      await sse.dropped({ from, to: snapshot.firstSeq - 1 });
      from = snapshot.firstSeq;
    }
  }
  let out: string[] = [];
  let held = 0;
  for await (const { seq, row } of snapshot.rows()) {
    if (sse.closed) return;
    if (seq >= from) {
      const event = `id: ${seq}\ndata: ${snapshot.lineJson(row, seq)}\n\n`;
      out.push(event);
      held += event.length;
    }
    if (out.length >= SNAPSHOT_BATCH_ROWS || held >= SNAPSHOT_BATCH_CHARS) {
      await sse.events(out.join(''));
      out = [];
      held = 0;
    }
  }
  if (out.length > 0) await sse.events(out.join(''));
  await sse.terminal();
}

/** `offset` ≥ 0: from that byte; < 0: the last |offset| bytes. Bytes before the snapshot's first are gone: it starts there. */
export async function snapshotToRaw(snapshot: SnapshotReader, offset: number, raw: RawWriter): Promise<void> {
  let from = offset;
  if (offset < 0) {
    // The text's length is only known after one pass over the snapshot (streamed, not buffered).
    let size = 0;
    for await (const { text } of snapshot.texts()) {
      size += text.length;
      if (raw.closed) return;
    }
    from = snapshot.firstOffset + Math.max(0, size + offset);
  }
  from = Math.max(from, snapshot.firstOffset);
  let position = snapshot.firstOffset;
  for await (const { offset: at, text } of snapshot.texts()) {
    if (raw.closed) return;
    position = at + text.length;
    if (position <= from) continue;
    raw.start(from);
    await raw.bytes(at >= from ? text : text.subarray(from - at));
  }
  raw.start(Math.min(from, position));
  raw.end();
}
