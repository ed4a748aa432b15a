// The stream operations behind both route families (docs/PROTOCOL.md,
// "Streams"): open, push, close (with an optional snapshot), info. They run
// on the raw node:http request/response: no framework between the socket and
// the hot path.
import { Readable } from 'node:stream';
import { ServiceError } from '../foundation/errors.ts';
import { rowsOf } from '../stream/snapshot-rows.ts';
import { keyInScope } from './auth.ts';
import type { HandlerContext } from './context.ts';
import { internalName, validateKey, validatePrefix } from './keys.ts';
import { noContent, sendJson } from './responses.ts';
import type { RouteCall } from './route-call.ts';
import { snapshotContentType } from './tail/snapshot.ts';

const MAX_KEY_LIST = 1000;

export async function openStream(call: RouteCall): Promise<void> {
  const ttlParam = call.query.get('timeout_seconds');
  let ttlSeconds: number | undefined;
  if (ttlParam !== null && ttlParam !== '') {
    ttlSeconds = Number(ttlParam);
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > 30 * 24 * 3600) {
      throw new ServiceError('LOGSVC_INVALID_PARAM', 'timeout_seconds must be an integer from 1 to 2592000');
    }
  }
  await call.ctx.stream.open(internalName(call.account, call.key), { ttlSeconds });
  noContent(call.res);
}

/** DELETE on a CI route: one stream. */
export async function closeOne(call: RouteCall): Promise<void> {
  if (!(await closeStream(call.ctx, internalName(call.account, call.key), call.query.get('snapshot') === 'true'))) {
    throw new ServiceError('LOGSVC_STREAM_NOT_FOUND', `no open stream "${call.key}"`);
  }
  noContent(call.res);
}

/** DELETE /stream: one key, every key under a prefix (`prefix=true`), or a list (`keyList=a,b`). */
export async function closeHarness(call: RouteCall): Promise<void> {
  const { ctx, query, account } = call;
  const snapshot = query.get('snapshot') === 'true';
  const keyList = query.get('keyList');
  if (keyList !== null && keyList !== '') {
    const keys = keyList.split(',').map((k) => validateKey(k.trim()));
    if (keys.length > MAX_KEY_LIST) throw new ServiceError('LOGSVC_INVALID_PARAM', `keyList holds more than ${MAX_KEY_LIST} keys`);
    keys.forEach((k) => call.authorizeKey(k));
    for (const key of keys) await closeStream(ctx, internalName(account, key), snapshot);
    noContent(call.res);
    return;
  }
  if (query.get('prefix') === 'true') {
    const prefix = validatePrefix(query.get('key') ?? undefined);
    call.authorizePrefix(prefix);
    for (const name of await ctx.stream.list(internalName(account, prefix))) await closeStream(ctx, name, snapshot);
    noContent(call.res);
    return;
  }
  const key = validateKey(query.get('key') ?? undefined);
  call.authorizeKey(key);
  if (!(await closeStream(ctx, internalName(account, key), snapshot))) {
    throw new ServiceError('LOGSVC_STREAM_NOT_FOUND', `no open stream "${key}"`);
  }
  noContent(call.res);
}

/**
 * Closes one stream, snapshotting it into the blob store when asked.
 *
 * The snapshot is stored before the stream is closed: when the store fails
 * (a full disk, S3 down) the error is answered and the stream stays open with
 * every line, so the producer can retry the same DELETE. Lines pushed while the
 * snapshot was written are caught by a second snapshot after the close. A
 * stream that is already closed (a retry after that second snapshot failed,
 * or after a close without snapshot) is snapshotted from what its grace period
 * keeps.
 */
export async function closeStream(ctx: HandlerContext, name: string, snapshot: boolean): Promise<boolean> {
  if (!snapshot) return ctx.stream.close(name);
  if (await ctx.stream.exists(name)) {
    const written = await writeSnapshot(ctx, name);
    await ctx.stream.close(name);
    if (!(await snapshotIsWhole(ctx, name, written))) await writeSnapshot(ctx, name);
    return true;
  }
  const justClosed = await ctx.stream.cursor(name, { kind: 'beginning' });
  if (justClosed === null) return false;
  justClosed.release();
  await writeSnapshot(ctx, name);
  return true;
}

/** What a snapshot holds: the seq of its last line (undefined: no line), and whether its seqs had a gap. */
interface WrittenSnapshot {
  lastSeq: number | undefined;
  gap: boolean;
}

/**
 * True when a snapshot written while the stream was open holds everything the
 * now closed stream has: no gap (lines trimmed while it was read) and no line
 * after its last one (pushed while it was written).
 */
async function snapshotIsWhole(ctx: HandlerContext, name: string, written: WrittenSnapshot): Promise<boolean> {
  if (written.gap) return false;
  const start = written.lastSeq === undefined ? { kind: 'beginning' as const } : { kind: 'after' as const, seq: written.lastSeq };
  const cursor = await ctx.stream.cursor(name, start);
  if (cursor === null) return true;
  try {
    const next = await cursor.read(1, 1);
    return next.lines.length === 0 && next.dropped === undefined && next.restart === undefined;
  } finally {
    cursor.release();
  }
}

async function writeSnapshot(ctx: HandlerContext, name: string): Promise<WrittenSnapshot> {
  const written: WrittenSnapshot = { lastSeq: undefined, gap: false };
  // The archive's chunks go in as stored (docs/ARCHIVE.md §3): the log is not decoded and encoded again.
  const pieces = (ctx.stream.snapshotRows?.(name) ?? rowsOf(ctx.stream.lines(name)))[Symbol.asyncIterator]();
  const first = await pieces.next();
  const contentType = first.done === true ? snapshotContentType(0, 0) : snapshotContentType(first.value.firstSeq, first.value.firstOffset);
  async function* all() {
    for (let next = first; next.done !== true; next = await pieces.next()) {
      const piece = next.value;
      if (written.lastSeq !== undefined && piece.firstSeq !== written.lastSeq + 1) written.gap = true;
      written.lastSeq = piece.firstSeq + piece.lines - 1;
      yield piece.rows;
    }
  }
  await ctx.store.put(name, Readable.from(all()), { contentType });
  return written;
}

/** Open streams of the call's account (only those under its scope for a scoped token). */
export async function streamInfo(call: RouteCall): Promise<void> {
  const prefix = `${call.account}/`;
  const keyPrefix = call.grant.scope?.keyPrefix;
  const info = await call.ctx.stream.info(prefix);
  const streams: Record<string, unknown> = {};
  for (const [name, entry] of info) {
    const key = name.slice(prefix.length);
    if (keyPrefix === undefined || keyInScope(key, keyPrefix)) streams[key] = entry;
  }
  sendJson(call.res, 200, { streams });
}

/**
 * GET /info/stream (the Harness Go client's Info; the global token only):
 * every open stream of every account, keyed `<account>/<key>` as Harness keys
 * them, in the same shape as /stream/info.
 */
export async function allStreamInfo(call: RouteCall): Promise<void> {
  const streams: Record<string, unknown> = {};
  for (const [name, entry] of await call.ctx.stream.info('')) streams[name] = entry;
  sendJson(call.res, 200, { streams });
}
