// GET / HEAD …/raw: the log's raw text by byte offset or RFC 9110 byte range
// (docs/PROTOCOL.md §7). A live stream is followed by the follow loop; a
// finished one is served from its snapshot blob. HEAD says the length there
// is now.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ServiceError } from '../foundation/errors.ts';
import { openAtOffset } from '../stream/log-stream.ts';
import type { HandlerContext } from './context.ts';
import { internalName } from './keys.ts';
import { rawRange, type RawRange } from './raw-range.ts';
import type { RouteCall } from './route-call.ts';
import { followStream } from './tail/follow.ts';
import { RawWriter, type RawResponseOptions } from './tail/raw-writer.ts';
import { TailSession } from './tail/session.ts';
import { snapshotToRaw } from './tail/snapshot-tail.ts';
import { SnapshotReader } from './tail/snapshot.ts';
import { parseOffset } from './tail-start.ts';

export async function rawTail(call: RouteCall): Promise<unknown> {
  const { ctx, req, res, account, key } = call;
  const offset = parseOffset(call.query.get('offset'));
  const name = internalName(account, key);
  const source = await locateText(ctx, name, key, req.method === 'HEAD' || req.headers.range !== undefined);
  if (req.method === 'HEAD') {
    res.writeHead(200, {
      ...TEXT_HEADERS,
      'Accept-Ranges': 'bytes',
      'Content-Length': String(source.length),
      'X-Log-Length': String(source.length),
      ...(source.live ? { 'X-Log-Live': 'true' } : {}),
    });
    res.end();
    return;
  }
  let range: RawRange;
  try {
    range = rawRange(req.headers.range, source.length, source.live, offset);
  } catch (err) {
    res.setHeader('Content-Range', `bytes */${source.length}`);
    throw err;
  }
  const start = range.kind === 'range' ? range.start : range.offset;
  return serveText(ctx, { account, name, key }, req, res, source, start, responseOptions(range));
}

/** Where a log's text is: its length now and whether it grows (a stream), or the finished log. */
export interface TextSource {
  /** The text's length now; 0 for a finished log unless asked for (reading it costs a pass). */
  length: number;
  live: boolean;
  /** The finished log, when there is no stream (open or just closed). */
  snapshot?: SnapshotReader;
}

/** The stream's text state, or the finished log (404 when there is neither); `needLength` reads a finished log's length. */
export async function locateText(ctx: HandlerContext, name: string, key: string, needLength: boolean): Promise<TextSource> {
  const state = await ctx.stream.textState?.(name);
  if (state != null) return { length: state.textEnd, live: state.open };
  // A plain tail of a finished log does not read it twice: the length only for HEAD and ranges.
  if (!needLength) return { length: 0, live: false };
  const snapshot = await finishedLog(ctx, name, key);
  return { length: await snapshot.length(), live: false, snapshot };
}

/** Serves the text from byte `start` (negative: the last |start| bytes) as a raw tail: followed while live, from the snapshot when finished. */
export async function serveText(
  ctx: HandlerContext,
  log: { account: string; name: string; key: string },
  req: IncomingMessage,
  res: ServerResponse,
  source: TextSource,
  start: number,
  options: RawResponseOptions,
): Promise<unknown> {
  const session = TailSession.forHttp(ctx, log.account, req, res);
  // While live, the held partial last line's bytes too (PROTOCOL.md §7.2).
  const textState = ctx.stream.textState?.bind(ctx.stream);
  if (source.live && options.heldText === undefined && textState !== undefined) options = { ...options, heldText: () => textState(log.name) };
  let following: Promise<unknown> | undefined;
  try {
    // Starts at the archived chunk that holds the offset, not at seq 0 (docs/ARCHIVE.md §4).
    const opened = source.snapshot === undefined ? await openAtOffset(ctx.stream, log.name, start) : null;
    if (opened !== null) {
      // Handed off, not awaited: the follow loop closes the session, and this frame (the request's state) ends now.
      following = followStream(opened.cursor, new RawWriter(session.sink(res), res, opened.offset, options), session);
    } else {
      const finished = source.snapshot ?? (await finishedLog(ctx, log.name, log.key));
      await snapshotToRaw(finished, start, new RawWriter(session.sink(res), res, start, options));
    }
  } finally {
    if (following === undefined) session.close();
  }
  return following;
}

const TEXT_HEADERS = { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache' };

function responseOptions(range: RawRange): RawResponseOptions {
  if (range.kind === 'follow') return { headers: () => ({ 'Accept-Ranges': 'bytes' }) };
  const headers: Record<string, string> = { 'Accept-Ranges': 'bytes', 'Content-Range': range.contentRange };
  if (range.contentLength !== undefined) headers['Content-Length'] = String(range.contentLength);
  return { status: 206, stopAt: range.start + (range.contentLength ?? range.stopAt - range.start), headers: () => headers };
}

/** The finished log's snapshot blob, or 404 when there is neither a stream nor a log. */
async function finishedLog(ctx: HandlerContext, name: string, key: string): Promise<SnapshotReader> {
  const meta = await ctx.store.head(name);
  if (meta === null) throw new ServiceError('LOGSVC_STREAM_NOT_FOUND', `no stream or log for "${key}"`);
  const open = async () => (await ctx.store.get(name))?.body ?? null;
  const shared = { cache: ctx.snapshotTexts, key: `${name}\0${meta.etag}`, size: meta.size };
  return new SnapshotReader({ contentType: meta.contentType, created: meta.created, open, shared }, ctx.config.stream.maxLineBytes);
}
