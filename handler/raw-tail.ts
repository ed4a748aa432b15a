// Raw log text with resume by byte offset (what taskcluster livelog and
// tailsrv offer): GET …/raw?offset=N streams the log's text — the
// concatenation of `out` — from byte N, follows it live, and ends when the
// stream closes. X-Log-Offset says where the body really starts; a reader
// resumes after a cut by asking for offset + bytes received. When bytes it
// needs are no longer retained, the response starts (or ends) at the gap
// instead of skipping it silently, and X-Log-Offset shows the jump.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { ServiceError } from '../foundation/errors.ts';
import { decodeLine } from '../stream/line-codec.ts';
import type { StoredLine, StreamCursor } from '../stream/log-stream.ts';
import { blobRows, snapshotOrigin } from './blob-tail.ts';
import { stallWindow, waitForDrain } from './drain-wait.ts';
import type { HandlerContext } from './context.ts';
import { internalName } from './keys.ts';
import { parseOffset } from './tail-start.ts';

const BATCH_LINES = 2000;
const BATCH_BYTES = 256 * 1024;

export async function rawTail(
  ctx: HandlerContext, account: string, key: string, req: IncomingMessage, res: ServerResponse, query: URLSearchParams,
): Promise<void> {
  const offset = parseOffset(query.get('offset'));
  const name = internalName(account, key);
  const release = ctx.tails.acquire(account);
  req.socket.setTimeout(0);
  const viewerLeft = new AbortController();
  res.on('close', () => viewerLeft.abort());
  const lifetimeMs = ctx.config.limits.tailMaxSeconds * 1000;
  const deadline = Date.now() + lifetimeMs;
  const stall = stallWindow(deadline, lifetimeMs);
  try {
    const cursor = await ctx.stream.cursor(name, { kind: 'beginning' });
    if (cursor !== null) {
      await followText(ctx, cursor, offset, res, viewerLeft.signal, deadline, stall);
      return;
    }
    let blob = await ctx.store.get(name);
    if (blob === null) throw new ServiceError('LOGSVC_STREAM_NOT_FOUND', `no stream or log for "${key}"`);
    // A snapshot of a trimmed stream starts at its oldest retained byte (see snapshotOrigin).
    const { firstOffset } = snapshotOrigin(blob.meta.contentType);
    let from = offset;
    if (offset < 0) {
      // The text's length is only known after one pass over the snapshot (streamed, not buffered).
      let size = 0;
      for await (const out of blobTexts(blob.body, ctx.config.stream.maxLineBytes)) size += out.length;
      from = firstOffset + Math.max(0, size + offset);
      blob = await ctx.store.get(name);
      if (blob === null) throw new ServiceError('LOGSVC_STREAM_NOT_FOUND', `no stream or log for "${key}"`);
    }
    await serveBlobText(blob.body, Math.max(from, firstOffset), firstOffset, res, ctx.config.stream.maxLineBytes, viewerLeft.signal, stall);
  } finally {
    release();
  }
}

function start(res: ServerResponse, offset: number): void {
  res.writeHead(200, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Cache-Control': 'no-cache',
    'X-Accel-Buffering': 'no',
    'X-Log-Offset': String(offset),
  });
  // Send the status and X-Log-Offset now: a tail of a quiet stream may have no byte to write for a long time.
  res.flushHeaders();
}

async function write(res: ServerResponse, data: Buffer, signal: AbortSignal, stall: () => number): Promise<void> {
  if (data.length === 0 || res.destroyed || res.writableEnded || res.write(data)) return;
  await waitForDrain(res, signal, stall());
}

function text(line: StoredLine): Buffer {
  return Buffer.from(decodeLine(line).out, 'utf8');
}

async function followText(
  ctx: HandlerContext, cursor: StreamCursor, requested: number, res: ServerResponse, signal: AbortSignal,
  deadline: number, stall: () => number,
): Promise<void> {
  try {
    let pending = await cursor.read(BATCH_LINES, BATCH_BYTES);
    let lines = pending.lines;
    let position = requested;
    if (requested < 0) {
      // The last |N| bytes of what is there now: read up to the current end first.
      const all = [...lines];
      while (!pending.end && pending.lines.length > 0) {
        pending = await cursor.read(BATCH_LINES, BATCH_BYTES);
        all.push(...pending.lines);
      }
      const last = all[all.length - 1];
      position = Math.max(0, (last ? last.offset + last.textBytes : 0) + requested);
      lines = all;
    }
    // Bytes before the oldest retained line are gone: start there, and say so.
    const oldest = lines[0];
    if (oldest !== undefined && oldest.offset > position) position = oldest.offset;
    start(res, position);
    let ended = pending.end;
    for (;;) {
      const pieces: Buffer[] = [];
      for (const line of lines) {
        const end = line.offset + line.textBytes;
        if (end <= position) continue;
        const bytes = text(line);
        pieces.push(line.offset >= position ? bytes : bytes.subarray(position - line.offset));
        position = end;
      }
      await write(res, Buffer.concat(pieces), signal, stall);
      if (ended || signal.aborted || Date.now() >= deadline) break; // at the lifetime: resume by offset
      const batch = await cursor.read(BATCH_LINES, BATCH_BYTES);
      if (batch.dropped) break; // a gap: end here; the reader resumes and sees X-Log-Offset jump
      lines = batch.lines;
      ended = batch.end;
      if (lines.length === 0 && !ended) {
        const lifetime = AbortSignal.timeout(Math.max(1, deadline - Date.now()));
        await cursor.waitForMore(AbortSignal.any([signal, ctx.shutdown, lifetime]));
        if (ctx.shutdown.aborted) break;
      }
    }
    res.end();
  } catch {
    res.destroy();
  } finally {
    cursor.release();
  }
}

/** The snapshot is NDJSON of lines: its text is the concatenation of their `out` (plain text blobs are their own text). */
async function* blobTexts(body: Readable, maxLineBytes: number): AsyncGenerator<Buffer> {
  for await (const row of blobRows(body, maxLineBytes * 2 + 4096)) {
    const s = row.toString('utf8');
    let out = `${s}\n`;
    try {
      const v = JSON.parse(s) as { out?: unknown };
      if (typeof v?.out === 'string') out = v.out;
    } catch {
      // not a line: the row itself is text
    }
    yield Buffer.from(out, 'utf8');
  }
}

async function serveBlobText(
  body: Readable, from: number, firstOffset: number, res: ServerResponse, maxLineBytes: number, signal: AbortSignal, stall: () => number,
): Promise<void> {
  let position = firstOffset;
  let started = false;
  for await (const chunk of blobTexts(body, maxLineBytes)) {
    if (signal.aborted) {
      body.destroy();
      return;
    }
    const next = position + chunk.length;
    if (next > from) {
      if (!started) { start(res, from); started = true; }
      await write(res, position >= from ? chunk : chunk.subarray(from - position), signal, stall);
    }
    position = next;
  }
  if (!started) start(res, Math.min(from, position));
  res.end();
}
