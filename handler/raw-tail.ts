// GET / HEAD …/raw: the log's raw text by byte offset or RFC 9110 byte range
// (docs/PROTOCOL.md §7). A live stream is followed by the follow loop; a
// finished one is served from its snapshot blob. HEAD says the length there
// is now.
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

export async function rawTail(call: RouteCall): Promise<void> {
  const { ctx, req, res, account, key } = call;
  const offset = parseOffset(call.query.get('offset'));
  const name = internalName(account, key);
  const state = await ctx.stream.textState?.(name);
  // The length is needed for HEAD and ranges only: a plain tail of a finished log does not read it twice.
  let snapshot: SnapshotReader | undefined;
  let length = state?.textEnd ?? 0;
  if (state == null && (req.method === 'HEAD' || req.headers.range !== undefined)) {
    snapshot = await finishedLog(ctx, name, key);
    length = await snapshot.length();
  }
  const live = state?.open === true;
  if (req.method === 'HEAD') {
    res.writeHead(200, {
      ...TEXT_HEADERS,
      'Accept-Ranges': 'bytes',
      'Content-Length': String(length),
      'X-Log-Length': String(length),
      ...(live ? { 'X-Log-Live': 'true' } : {}),
    });
    res.end();
    return;
  }
  let range: RawRange;
  try {
    range = rawRange(req.headers.range, length, live, offset);
  } catch (err) {
    res.setHeader('Content-Range', `bytes */${length}`);
    throw err;
  }
  const start = range.kind === 'range' ? range.start : range.offset;
  const options = responseOptions(range);
  const session = TailSession.forHttp(ctx, account, req, res);
  try {
    if (snapshot === undefined) {
      // Starts at the archived chunk that holds the offset, not at seq 0 (docs/ARCHIVE.md §4).
      const opened = await openAtOffset(ctx.stream, name, start);
      if (opened !== null) {
        await followStream(opened.cursor, new RawWriter(session.sink(res), res, opened.offset, options), session);
        return;
      }
    }
    const finished = snapshot ?? (await finishedLog(ctx, name, key));
    await snapshotToRaw(finished, start, new RawWriter(session.sink(res), res, start, options));
  } finally {
    session.close();
  }
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
