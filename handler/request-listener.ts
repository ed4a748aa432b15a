// The one dispatcher (docs/ARCHITECTURE.md, "Routes"): for every request, the
// access log, the development-mode Host check, CORS; then the route from the
// table (routes.ts), resolved into a call (route-resolver.ts) and handled;
// any error, whatever raised it, rendered by one renderer.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ServiceError } from '../foundation/errors.ts';
import { redactUrl } from '../foundation/logger.ts';
import type { HandlerContext } from './context.ts';
import { applyCors } from './cors.ts';
import { sendError } from './error-response.ts';
import type { RouteSpec } from './route-call.ts';
import { RouteMatcher } from './route-matcher.ts';
import { resolveCall } from './route-resolver.ts';
import { ROUTES } from './routes.ts';
import { serveUi } from './ui-assets.ts';

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export function createRequestListener(ctx: HandlerContext, routes: readonly RouteSpec[] = ROUTES): RequestListener {
  const matcher = new RouteMatcher(routes);
  // Development mode: no token, loopback bind. Checking Host stops DNS rebinding
  // (a web page whose name resolves to 127.0.0.1 reading the logs).
  const devMode = !ctx.auth.enabled && !ctx.config.auth.disabled;
  // The last Host checked and the answer: a client sends the same one on every request.
  let lastHost: string | undefined;
  let lastHostIsLoopback = true;
  const isLoopbackHostCached = (host: string | undefined) => {
    if (host !== lastHost) {
      lastHostIsLoopback = isLoopbackHost(host);
      lastHost = host;
    }
    return lastHostIsLoopback;
  };
  return (req, res) => {
    logAccess(ctx, req, res);
    // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400 (node:http is told
    // not to answer it itself, so that it gets the service's error body).
    if (req.headers.host === undefined && req.httpVersion === '1.1') {
      sendError(res, new ServiceError('LOGSVC_BAD_REQUEST', 'HTTP/1.1 requests need a Host header (RFC 9112 §3.2)'));
      return;
    }
    if (devMode && !isLoopbackHostCached(req.headers.host)) {
      sendError(
        res,
        new ServiceError(
          'LOGSVC_FORBIDDEN',
          'development mode (no token) answers only requests addressed to localhost / 127.0.0.1; set LOG_SERVICE_GLOBAL_TOKEN to serve other hosts',
        ),
      );
      return;
    }
    if (applyCors(ctx.config.cors, req, res)) return;
    let handled: Promise<unknown> | void;
    try {
      handled = dispatch(ctx, matcher, req, res);
    } catch (err) {
      sendError(res, err, ctx.log);
      return;
    }
    handled?.catch((err: unknown) => sendError(res, err, ctx.log));
  };
}

/**
 * Not async: its promise would be one more link that every idle tail keeps
 * (docs/ARCHITECTURE.md, "An idle tail's memory"). Throws what it refuses;
 * returns the handler's promise, if any.
 */
function dispatch(ctx: HandlerContext, matcher: RouteMatcher, req: IncomingMessage, res: ServerResponse): Promise<unknown> | void {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  // The web viewer's pages and files (docs/VIEWER.md §1): public, outside the route table.
  if (serveUi(req, res, path)) return;
  let match = matcher.match(req.method ?? 'GET', path);
  // RFC 9110 §9.3.2: HEAD is GET without the body; offered on the service's own routes
  // (node:http sends no body for HEAD). Tails, downloads and zips declare what they do.
  if (match.kind !== 'found' && req.method === 'HEAD') {
    const get = matcher.match('GET', path);
    if (get.kind === 'found' && get.route.family === 'service') match = get;
  }
  if (match.kind === 'none') throw new ServiceError('LOGSVC_NOT_FOUND', `no such route: ${req.method} ${path.slice(0, 200)} (see docs/API.md)`);
  if (match.kind === 'method') {
    res.setHeader('Allow', match.allowed.join(', '));
    throw new ServiceError('LOGSVC_METHOD_NOT_ALLOWED', `method not allowed here; use ${match.allowed.join(', ')}`);
  }
  const rawQuery = q === -1 ? '' : url.slice(q + 1);
  checkQueryEncoding(rawQuery);
  const query = new URLSearchParams(rawQuery);
  return match.route.handle(resolveCall(ctx, match.route, req, res, match.params, query));
}

/** Parameters that name keys: a bad encoding there is a bad key. */
const KEY_PARAMS = new Set(['key', 'keyList', 'prefix']);

/**
 * URLSearchParams turns a percent-encoding that is not UTF-8 (`a%ff`) into
 * U+FFFD, so `a%ff`, `a%fe` and `a%ef%bf%bd` would all name the same key.
 * Such a query is refused instead (RFC 3986 §2.5: percent-encoded UTF-8).
 */
function checkQueryEncoding(rawQuery: string): void {
  if (!rawQuery.includes('%')) return;
  // The common case, a good query, in one call: no percent-encoding spans an `&`, so the whole
  // query decodes exactly when each of its parameters does. Only a bad one is looked at part by part.
  if (decodesAsUtf8(rawQuery)) return;
  for (const part of rawQuery.split('&')) {
    if (!part.includes('%')) continue;
    const eq = part.indexOf('=');
    const name = eq === -1 ? part : part.slice(0, eq);
    try {
      decodeURIComponent(part.replace(/\+/g, ' '));
    } catch {
      let shownName = name;
      try {
        shownName = decodeURIComponent(name);
      } catch {
        /* the name itself is bad */
      }
      const code = KEY_PARAMS.has(shownName) ? 'LOGSVC_INVALID_KEY' : 'LOGSVC_INVALID_PARAM';
      throw new ServiceError(code, `query parameter "${shownName.slice(0, 40)}" is not valid percent-encoded UTF-8`);
    }
  }
}

function decodesAsUtf8(text: string): boolean {
  try {
    decodeURIComponent(text);
    return true;
  } catch {
    return false;
  }
}

function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return true; // HTTP/1.0 without Host: only reachable on our loopback bind anyway
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  return name === 'localhost' || name === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

/** One line per request; 4xx at info, 5xx at error, the rest at debug. Secrets in the URL are redacted. */
function logAccess(ctx: HandlerContext, req: IncomingMessage, res: ServerResponse): void {
  const start = performance.now();
  const log = ctx.log;
  // 'close' comes once: `on`, not `once`, which would wrap the listener (kept by every idle tail).
  res.on('close', () => {
    const status = res.statusCode;
    ctx.metrics.countRequest(req.method ?? 'GET', status);
    const level = status >= 500 ? 'error' : status >= 400 ? 'info' : 'debug';
    if (!log.isLevelEnabled(level)) return;
    log[level]({ method: req.method, url: redactUrl(req.url ?? ''), status, ms: Math.round(performance.now() - start) }, 'request');
  });
}
