// The stream operations behind both route families (docs/PROTOCOL.md,
// "Streams"): open, push, close (with an optional snapshot), info. They run
// on the raw node:http request/response: no framework between the socket and
// the hot path.
import { Readable } from 'node:stream';
import { ServiceError } from '../foundation/errors.ts';
import { keyInScope } from './auth.ts';
import type { HandlerContext } from './context.ts';
import { internalName, validateKey, validatePrefix } from './keys.ts';
import { parsePushBody, readBody } from './push-body.ts';
import { noContent, sendJson } from './responses.ts';
import type { RouteCall } from './route-call.ts';
import { snapshotBody, snapshotContentType } from './tail/snapshot.ts';

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

export async function pushLines(call: RouteCall): Promise<void> {
  const { ctx, req } = call;
  const body = await readBody(req, ctx.config.limits.maxPushBytes, ctx.config.http.requestTimeoutSeconds * 1000);
  const lines = parsePushBody(body, req.headers['content-type']);
  await ctx.stream.push(internalName(call.account, call.key), lines);
  ctx.metrics.pushRequests++;
  ctx.metrics.linesPushed += lines.length;
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
 * Closes one stream, snapshotting it into the blob store when asked. A
 * snapshot that failed (say S3 was down) can be retried with the same DELETE
 * while the closed stream is still in its grace period.
 */
async function closeStream(ctx: HandlerContext, name: string, snapshot: boolean): Promise<boolean> {
  let closed = await ctx.stream.close(name);
  if (!closed && snapshot) {
    const justClosed = await ctx.stream.cursor(name, { kind: 'beginning' });
    justClosed?.release();
    closed = justClosed !== null;
  }
  if (closed && snapshot) await writeSnapshot(ctx, name);
  return closed;
}

async function writeSnapshot(ctx: HandlerContext, name: string): Promise<void> {
  const lines = ctx.stream.lines(name)[Symbol.asyncIterator]();
  const first = await lines.next();
  const contentType = first.done === true ? snapshotContentType(0, 0) : snapshotContentType(first.value.seq, first.value.offset);
  async function* all() {
    if (first.done === true) return;
    yield first.value;
    for (let next = await lines.next(); next.done !== true; next = await lines.next()) yield next.value;
  }
  await ctx.store.put(name, Readable.from(snapshotBody(all())), { contentType });
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
