// The stream operations behind both route families (DESIGN §5, §6). They run
// on the raw node:http request/response (no Express middleware on the hot path).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { ServiceError } from '../foundation/errors.ts';
import { lineJson } from '../stream/line-codec.ts';
import type { StoredLine } from '../stream/log-stream.ts';
import { serveBlobAsStream, snapshotContentType } from './blob-tail.ts';
import { keyInScope } from './auth.ts';
import type { HandlerContext } from './context.ts';
import { stallWindow } from './drain-wait.ts';
import { internalName } from './keys.ts';
import { parsePushBody, readBody } from './push-body.ts';
import { SseWriter, type TerminalStyle } from './sse-writer.ts';
import { cursorStart } from './tail-start.ts';
import { followStream } from './tail-loop.ts';

export async function openStream(ctx: HandlerContext, name: string, ttlParam: string | null, res: ServerResponse): Promise<void> {
  let ttlSeconds: number | undefined;
  if (ttlParam !== null && ttlParam !== '') {
    ttlSeconds = Number(ttlParam);
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > 30 * 24 * 3600) {
      throw new ServiceError('LOGSVC_INVALID_PARAM', 'timeout_seconds must be an integer from 1 to 2592000');
    }
  }
  await ctx.stream.open(name, { ttlSeconds });
  noContent(res);
}

export async function pushLines(ctx: HandlerContext, name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readBody(req, ctx.config.limits.maxPushBytes, ctx.config.http.requestTimeoutSeconds * 1000);
  const lines = parsePushBody(body, req.headers['content-type']);
  await ctx.stream.push(name, lines);
  ctx.metrics.pushRequests++;
  ctx.metrics.linesPushed += lines.length;
  noContent(res);
}

export async function tailStream(
  ctx: HandlerContext, account: string, key: string, style: TerminalStyle,
  req: IncomingMessage, res: ServerResponse, query: URLSearchParams,
): Promise<void> {
  const start = cursorStart(req.headers['last-event-id'], query);
  const name = internalName(account, key);
  const release = ctx.tails.acquire(account);
  // Tails are long-lived and quiet between pings: no idle timeout on their socket.
  req.socket.setTimeout(0);
  const viewerLeft = new AbortController();
  res.on('close', () => viewerLeft.abort());
  const lifetimeMs = ctx.config.limits.tailMaxSeconds * 1000;
  const sse = new SseWriter(res, viewerLeft.signal, stallWindow(Date.now() + lifetimeMs, lifetimeMs));
  try {
    const cursor = await ctx.stream.cursor(name, start);
    const pingMs = ctx.config.limits.pingIntervalSeconds * 1000;
    if (cursor !== null) {
      sse.start(3000);
      // A cursor asked to start after seq N that starts at or before N was reset to a newer stream.
      if (start.kind === 'after' && cursor.position <= start.seq) await sse.restart(cursor.position);
      const outcome = await followStream(cursor, sse, {
        terminal: style, pingIntervalMs: pingMs, maxLifetimeMs: lifetimeMs, shutdown: ctx.shutdown,
      });
      ctx.log.debug({ name, outcome }, 'tail finished');
      return;
    }
    const meta = await ctx.store.head(name);
    if (meta !== null) {
      sse.start(3000);
      const open = async () => (await ctx.store.get(name))?.body ?? null;
      await serveBlobAsStream({ contentType: meta.contentType, created: meta.created, open }, start, sse, ctx.config.stream.maxLineBytes);
      await sse.terminal(style);
      return;
    }
    // DESIGN §6: nothing at all is 404 on CI routes, an immediate end on Harness routes.
    if (style === 'ci') throw new ServiceError('LOGSVC_STREAM_NOT_FOUND', `no stream or log for "${key}"`);
    sse.start(3000);
    await sse.terminal(style);
  } finally {
    release();
  }
}

/** Closes one stream, snapshotting it first into the blob store when asked. */
/**
 * Closes one stream, snapshotting it into the blob store when asked. A
 * snapshot that failed (say S3 was down) can be retried with the same DELETE
 * while the closed stream is still in its grace period.
 */
export async function closeStream(ctx: HandlerContext, name: string, snapshot: boolean): Promise<boolean> {
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
  const contentType = first.done === true ? 'application/x-ndjson' : snapshotContentType(first.value.seq, first.value.offset);
  async function* all(): AsyncGenerator<StoredLine> {
    if (first.done === true) return;
    yield first.value;
    for (let next = await lines.next(); next.done !== true; next = await lines.next()) yield next.value;
  }
  await ctx.store.put(name, Readable.from(ndjson(all())), { contentType });
}

/** NDJSON of the lines' JSON, in chunks of about 64 KiB. */
async function* ndjson(lines: AsyncIterable<StoredLine>): AsyncGenerator<Buffer> {
  const NL = Buffer.from('\n');
  let parts: Buffer[] = [];
  let size = 0;
  for await (const line of lines) {
    const json = lineJson(line);
    parts.push(json, NL);
    size += json.length + 1;
    if (size >= 65536) {
      yield Buffer.concat(parts, size);
      parts = [];
      size = 0;
    }
  }
  if (size > 0) yield Buffer.concat(parts, size);
}

/** Open streams of one account (only those under `keyPrefix` for a scoped token). */
export async function streamInfo(ctx: HandlerContext, account: string, res: ServerResponse, keyPrefix?: string): Promise<void> {
  const prefix = `${account}/`;
  const info = await ctx.stream.info(prefix);
  const streams: Record<string, unknown> = {};
  for (const [name, entry] of info) {
    const key = name.slice(prefix.length);
    if (keyPrefix === undefined || keyInScope(key, keyPrefix)) streams[key] = entry;
  }
  sendJson(res, 200, { streams });
}

export function noContent(res: ServerResponse): void {
  res.writeHead(204);
  res.end();
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(body);
}
