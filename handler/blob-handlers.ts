// Blob upload and download on top of the BlobStore (docs/PROTOCOL.md §2.1): streamed
// both ways, ranges, validators. Used by the Harness, CI and signed-link routes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { ServiceError } from '../foundation/errors.ts';
import type { LinkMethod } from '../store/blob-store.ts';
import { parseRange } from './byte-range.ts';
import type { HandlerContext } from './context.ts';
import { internalName } from './keys.ts';
import type { RouteCall } from './route-call.ts';
import { sendJson } from './responses.ts';

export async function uploadBlob(ctx: HandlerContext, account: string, key: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const maxBytes = ctx.config.limits.maxBlobBytes;
  if (maxBytes !== undefined && Number(req.headers['content-length']) > maxBytes) {
    throw new ServiceError('LOGSVC_BODY_TOO_LARGE', `the blob is over the limit of ${maxBytes} bytes`);
  }
  const contentType = req.headers['content-type'] ?? 'application/octet-stream';
  const meta = await ctx.store.put(internalName(account, key), req, { contentType, maxBytes });
  ctx.metrics.blobUploads++;
  ctx.metrics.blobBytesUploaded += meta.size;
  res.writeHead(204);
  res.end();
}

export async function downloadBlob(ctx: HandlerContext, account: string, key: string, req: IncomingMessage, res: ServerResponse, attempt = 1): Promise<void> {
  const name = internalName(account, key);
  const meta = await ctx.store.head(name);
  if (meta === null) throw new ServiceError('LOGSVC_BLOB_NOT_FOUND', `no blob "${key}"`);
  const headers: Record<string, string | number> = {
    'Content-Type': meta.contentType,
    ETag: meta.etag,
    'Last-Modified': new Date(meta.created).toUTCString(),
    'Accept-Ranges': 'bytes',
    'Cache-Control': 'private, no-cache',
  };
  // RFC 9110 §13.1.2: If-None-Match with the current ETag → 304.
  const inm = req.headers['if-none-match'];
  if (
    inm !== undefined &&
    inm
      .split(',')
      .map((s) => s.trim())
      .some((t) => t === meta.etag || t === '*')
  ) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  let range;
  // RFC 9110 §13.1.5: If-Range with another validator means "send it all".
  const ifRange = req.headers['if-range'];
  try {
    range = ifRange === undefined || ifRange === meta.etag ? parseRange(req.headers.range, meta.size) : undefined;
  } catch (err) {
    res.setHeader('Content-Range', `bytes */${meta.size}`);
    throw err;
  }
  const status = range ? 206 : 200;
  if (range) headers['Content-Range'] = `bytes ${range.start}-${range.end}/${meta.size}`;
  headers['Content-Length'] = range ? range.end - range.start + 1 : meta.size;
  if (req.method === 'HEAD') {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const blob = await ctx.store.get(name, range);
  if (blob === null) throw new ServiceError('LOGSVC_BLOB_NOT_FOUND', `no blob "${key}"`);
  if (blob.meta.etag !== meta.etag) {
    // Replaced between head and get: the headers describe the old version. Start over once.
    blob.body.destroy();
    if (attempt < 2) return downloadBlob(ctx, account, key, req, res, attempt + 1);
    throw new ServiceError('LOGSVC_CONFLICT', 'the blob is being replaced; retry');
  }
  res.writeHead(status, headers);
  await pipeline(blob.body, res).catch((err: unknown) => {
    // The viewer went away or the blob changed under us: the connection is cut,
    // and Content-Length tells the client the body is incomplete.
    ctx.log.debug({ err, name }, 'download ended early');
    res.destroy();
  });
}

/** docs/PROTOCOL.md §2.1: delete → 204, also when there was nothing to delete (idempotent, as in Harness). */
export async function deleteBlob(ctx: HandlerContext, account: string, key: string, res: ServerResponse): Promise<void> {
  await ctx.store.delete(internalName(account, key));
  res.writeHead(204);
  res.end();
}

export async function blobExists(ctx: HandlerContext, account: string, key: string, res: ServerResponse): Promise<void> {
  const exists = (await ctx.store.head(internalName(account, key))) !== null;
  res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' });
  res.end(exists ? 'true' : 'false');
}

/**
 * A link that works without credentials until it expires: presigned by the
 * store (S3) or signed by this service (LMDB). `expires` is the link's
 * lifetime in nanoseconds, as Harness clients read it (a Go time.Duration).
 */
export async function blobLink(call: RouteCall, method: LinkMethod): Promise<void> {
  const { ctx, account, key } = call;
  const seconds = ctx.config.linkExpirySeconds;
  const expires = seconds * 1e9;
  let link: string;
  if (ctx.store.presign !== undefined) {
    link = await ctx.store.presign(internalName(account, key), method, seconds);
  } else {
    const query = ctx.links.sign({ method, accountID: account, key, expires: Math.floor(Date.now() / 1000) + seconds });
    link = `${publicBase(ctx, call.req)}/links/blob?${query}`;
  }
  sendJson(call.res, 200, { link, expires });
}

/** Base URL of the links this service hands out: configured, or from the request. */
export function publicBase(ctx: HandlerContext, req: IncomingMessage): string {
  if (ctx.config.http.publicUrl !== undefined) return ctx.config.http.publicUrl;
  const scheme = ctx.config.tls ? 'https' : 'http';
  const host = req.headers.host;
  const valid = host !== undefined && /^[A-Za-z0-9.\-:[\]]+$/.test(host);
  return `${scheme}://${valid ? host : `${ctx.config.http.host}:${ctx.config.http.port}`}`;
}
