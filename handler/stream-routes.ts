// Routing for the stream endpoints, the hot paths (push, tail), on bare
// node:http: no Express middleware between the socket and the handler.
//   Harness: /stream, /stream/info   (?accountID=&key=)
//   CI:      /ci/:project/:build/:stage/:step/stream, /ci/streams
//   Raw text by byte offset: /stream/raw, /ci/:project/:build/:stage/:step/raw
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ServiceError } from '../foundation/errors.ts';
import type { Access } from './auth.ts';
import type { HandlerContext } from './context.ts';
import { ciKey, internalName, validateAccount, validateKey, validatePrefix } from './keys.ts';
import { rawTail } from './raw-tail.ts';
import { closeStream, noContent, openStream, pushLines, streamInfo, tailStream } from './stream-handlers.ts';

const ACCESS: Record<string, Access> = { POST: 'write', PUT: 'write', DELETE: 'write', GET: 'read', HEAD: 'read' };

/** Handles the request when it is a stream route; false otherwise. */
export async function routeStream(
  ctx: HandlerContext, req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams,
): Promise<boolean> {
  const method = req.method ?? 'GET';
  if (path === '/stream') {
    await harnessStream(ctx, method, req, res, query);
    return true;
  }
  if (path === '/stream/info' || path === '/ci/streams') {
    if (method !== 'GET') throw methodNotAllowed('GET');
    // No ?token= here: only tails and downloads take one (browsers' EventSource cannot set headers).
    const grant = ctx.auth.identify(req);
    const account = path === '/ci/streams'
      ? ctx.auth.accountFor(grant, optionalAccount(query))
      : validateAccount(query.get('accountID') ?? undefined);
    ctx.auth.authorize(grant, account, 'read');
    await streamInfo(ctx, account, res, grant.scope?.keyPrefix);
    return true;
  }
  if (path === '/stream/raw') {
    if (method !== 'GET') throw methodNotAllowed('GET');
    const grant = ctx.auth.identify(req, query.get('token'));
    const account = validateAccount(query.get('accountID') ?? undefined);
    const key = validateKey(query.get('key') ?? undefined);
    ctx.auth.authorize(grant, account, 'read', key);
    await rawTail(ctx, account, key, req, res, query);
    return true;
  }
  if (path.startsWith('/ci/') && path.endsWith('/raw')) {
    const parts = path.split('/');
    if (parts.length !== 7) return false;
    if (method !== 'GET') throw methodNotAllowed('GET');
    const key = ciKey({ project: segment(parts[2]), build: segment(parts[3]), stage: segment(parts[4]), step: segment(parts[5]) });
    const grant = ctx.auth.identify(req, query.get('token'));
    const account = ctx.auth.accountFor(grant, optionalAccount(query));
    ctx.auth.authorize(grant, account, 'read', key);
    await rawTail(ctx, account, key, req, res, query);
    return true;
  }
  if (path.startsWith('/ci/') && path.endsWith('/stream')) {
    const parts = path.split('/');
    if (parts.length !== 7) return false;
    const key = ciKey({ project: segment(parts[2]), build: segment(parts[3]), stage: segment(parts[4]), step: segment(parts[5]) });
    await ciStream(ctx, method, key, req, res, query);
    return true;
  }
  return false;
}

async function harnessStream(ctx: HandlerContext, method: string, req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
  const access = ACCESS[method];
  if (access === undefined || method === 'HEAD') throw methodNotAllowed('POST, PUT, GET, DELETE');
  const grant = ctx.auth.identify(req, method === 'GET' ? query.get('token') : null);
  const account = validateAccount(query.get('accountID') ?? undefined);
  ctx.auth.authorize(grant, account, access);
  if (method === 'DELETE') {
    await harnessClose(ctx, account, query, res,
      (key) => ctx.auth.authorize(grant, account, access, key),
      (prefix) => ctx.auth.authorizePrefix(grant, account, access, prefix));
    return;
  }
  const key = validateKey(query.get('key') ?? undefined);
  ctx.auth.authorize(grant, account, access, key);
  await streamOp(ctx, method, account, key, 'harness', req, res, query);
}

async function ciStream(ctx: HandlerContext, method: string, key: string, req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
  const access = ACCESS[method];
  if (access === undefined || method === 'HEAD') throw methodNotAllowed('POST, PUT, GET, DELETE');
  const grant = ctx.auth.identify(req, method === 'GET' ? query.get('token') : null);
  const account = ctx.auth.accountFor(grant, optionalAccount(query));
  ctx.auth.authorize(grant, account, access, key);
  if (method === 'DELETE') {
    if (!(await closeStream(ctx, internalName(account, key), query.get('snapshot') === 'true'))) {
      throw new ServiceError('LOGSVC_STREAM_NOT_FOUND', `no open stream "${key}"`);
    }
    noContent(res);
    return;
  }
  await streamOp(ctx, method, account, key, 'ci', req, res, query);
}

async function streamOp(
  ctx: HandlerContext, method: string, account: string, key: string, style: 'ci' | 'harness',
  req: IncomingMessage, res: ServerResponse, query: URLSearchParams,
): Promise<void> {
  const name = internalName(account, key);
  if (method === 'POST') await openStream(ctx, name, query.get('timeout_seconds'), res);
  else if (method === 'PUT') await pushLines(ctx, name, req, res);
  else await tailStream(ctx, account, key, style, req, res, query);
}

/** DELETE /stream: one key, every key under a prefix (`prefix=true`), or a list (`keyList=a,b`). */
async function harnessClose(
  ctx: HandlerContext, account: string, query: URLSearchParams, res: ServerResponse,
  authorizeKey: (key: string) => void, authorizePrefix: (prefix: string) => void,
): Promise<void> {
  const snapshot = query.get('snapshot') === 'true';
  const keyList = query.get('keyList');
  if (keyList !== null && keyList !== '') {
    const keys = keyList.split(',').map((k) => validateKey(k.trim()));
    if (keys.length > 1000) throw new ServiceError('LOGSVC_INVALID_PARAM', 'keyList holds more than 1000 keys');
    keys.forEach(authorizeKey);
    for (const key of keys) await closeStream(ctx, internalName(account, key), snapshot);
    noContent(res);
    return;
  }
  if (query.get('prefix') === 'true') {
    const prefix = validatePrefix(query.get('key') ?? undefined);
    authorizePrefix(prefix);
    for (const name of await ctx.stream.list(internalName(account, prefix))) await closeStream(ctx, name, snapshot);
    noContent(res);
    return;
  }
  const key = validateKey(query.get('key') ?? undefined);
  authorizeKey(key);
  if (!(await closeStream(ctx, internalName(account, key), snapshot))) {
    throw new ServiceError('LOGSVC_STREAM_NOT_FOUND', `no open stream "${key}"`);
  }
  noContent(res);
}

export function optionalAccount(query: URLSearchParams): string | undefined {
  const requested = query.get('accountID');
  return requested === null || requested === '' ? undefined : validateAccount(requested);
}

export function segment(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ServiceError('LOGSVC_INVALID_ID', 'the path is not valid percent-encoding');
  }
}

export function methodNotAllowed(allowed: string): ServiceError {
  return new ServiceError('LOGSVC_METHOD_NOT_ALLOWED', `method not allowed here; use ${allowed}`);
}
