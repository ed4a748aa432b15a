// PATCH / PUT …/raw: the log's text written as bytes (docs/PROTOCOL.md §7.2).
// PATCH appends its body at the byte offset its Content-Range names, with
// GitLab's trace semantics: the offset must be the log's length, a retry of
// bytes already stored (identical) is answered as a success, anything that
// would leave a hole or change stored bytes is 416 and stores nothing; every
// answer says the log's length in `Range: 0-<length>`. PUT appends a
// (chunked) body as it arrives, for producers that hold one connection open.
import type { ServerResponse } from 'node:http';
import { ServiceError } from '../foundation/errors.ts';
import { joinText } from '../stream/line-codec.ts';
import { openAtOffset, type LogStream, type TextState } from '../stream/log-stream.ts';
import { appendLength, appendText } from '../stream/text-append.ts';
import { appendBody, BodyAborted, requireOpen } from './body-appender.ts';
import { internalName } from './keys.ts';
import { readBodyBytes } from './push-body.ts';
import type { RouteCall } from './route-call.ts';

/** `bytes a-b/*`, `bytes a-b/total` or `bytes a-b` (GitLab runners send the last). */
const CONTENT_RANGE = /^\s*bytes\s+(\d{1,15})-(\d{1,15})(?:\/(?:\*|\d{1,15}))?\s*$/i;

/** Rounds of read-compare-append before a PATCH that keeps losing races is answered with the length it saw. */
const PATCH_ROUNDS = 4;

export async function patchRaw(call: RouteCall): Promise<void> {
  const { ctx, req, res, key } = call;
  const header = req.headers['content-range'];
  const m = header === undefined ? null : CONTENT_RANGE.exec(header);
  if (m === null) {
    throw new ServiceError('LOGSVC_INVALID_PARAM', 'PATCH …/raw needs Content-Range: bytes <first>-<last>/* naming where the body goes in the log');
  }
  const start = Number(m[1]);
  const last = Number(m[2]);
  const name = internalName(call.account, key);
  await requireOpen(ctx.stream, name, key);
  const body = await readBodyBytes(req, ctx.config.limits.maxPushBytes, ctx.config.http.requestTimeoutSeconds * 1000);
  // An empty body has no last byte: GitLab sends "bytes a-(a-1)"; any a-b with b = a + length - 1 is the body.
  if (last - start + 1 !== body.length) {
    throw new ServiceError('LOGSVC_INVALID_PARAM', `Content-Range ${header!.trim()} is ${last - start + 1} bytes, the body ${body.length}`);
  }
  const maxLineBytes = ctx.config.stream.maxLineBytes;
  let length = 0;
  for (let round = 0; round < PATCH_ROUNDS; round++) {
    const state = await ctx.stream.textState?.(name);
    if (state == null || !state.open) throw new ServiceError('LOGSVC_STREAM_NOT_FOUND', `no open stream "${key}": open it first (POST …/stream)`);
    length = appendLength(state);
    if (start > length) throw rangeRefused(res, length, `the append starts at byte ${start}, past the log's end (${length}): it would leave a hole`);
    const overlap = Math.min(length, start + body.length) - start;
    if (overlap > 0) {
      const stored = await storedText(ctx.stream, name, state, start, start + overlap);
      if (!stored.equals(body.subarray(0, overlap))) {
        throw rangeRefused(res, length, `bytes ${start}-${start + overlap - 1} are already in the log with other content`);
      }
    }
    const rest = body.subarray(overlap);
    if (rest.length === 0) return accepted(res, length);
    const result = await appendText(ctx.stream, name, rest, maxLineBytes, length);
    if (result.appended) return accepted(res, result.length);
    // Another append came in between: look again (this one may now be a retry of it).
  }
  throw rangeRefused(res, length, "other appends kept moving the log's end: retry from the length in Range");
}

export async function putRaw(call: RouteCall): Promise<void> {
  const { ctx, req, res, key } = call;
  const name = internalName(call.account, key);
  await requireOpen(ctx.stream, name, key);
  try {
    accepted(res, await appendBody(ctx.stream, name, req, ctx.config.stream.maxLineBytes));
  } catch (err) {
    if (err instanceof BodyAborted) return; // the producer is gone: no one to answer
    throw err;
  }
}

function accepted(res: ServerResponse, length: number): void {
  res.writeHead(202, { Range: `0-${length}`, 'Content-Length': '0' });
  res.end();
}

function rangeRefused(res: ServerResponse, length: number, why: string): ServiceError {
  res.setHeader('Range', `0-${length}`);
  return new ServiceError('LOGSVC_RANGE_NOT_SATISFIABLE', `${why}; nothing was stored. Append at byte ${length}`);
}

/** The log's bytes [from, to): the lines' text from the stream (ring or archive), then the held partial line. */
async function storedText(stream: LogStream, name: string, state: TextState, from: number, to: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  const linesEnd = Math.min(to, state.textEnd);
  if (from < linesEnd) {
    const opened = await openAtOffset(stream, name, from);
    if (opened === null) throw new ServiceError('LOGSVC_STREAM_NOT_FOUND', `the stream "${name}" went away`);
    const { cursor } = opened;
    try {
      let at = from;
      while (at < linesEnd) {
        const batch = await cursor.read(1000, 1 << 20);
        if (batch.dropped !== undefined || batch.restart !== undefined || batch.lines.length === 0) break;
        const first = batch.lines[0]!;
        const text = joinText(batch.lines);
        const piece = text.subarray(Math.max(0, at - first.offset), Math.max(0, linesEnd - first.offset));
        parts.push(piece);
        at += piece.length;
      }
    } finally {
      cursor.release();
    }
  }
  if (to > state.textEnd) parts.push(state.pending.subarray(Math.max(0, from - state.textEnd), to - state.textEnd));
  return Buffer.concat(parts);
}
