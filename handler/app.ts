// The request listener: CORS and the access log for every request, stream
// routes (the hot paths) on bare node:http, every other route through one
// Express app, and one error renderer for both.
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { ServiceError } from '../foundation/errors.ts';
import { redactUrl } from '../foundation/logger.ts';
import { blobRouter } from './blob-routes.ts';
import type { HandlerContext } from './context.ts';
import { applyCors } from './cors.ts';
import { sendError } from './error-response.ts';
import { healthRouter, metricsRouter } from './health-routes.ts';
import { routeStream } from './stream-routes.ts';
import { tokenRouter } from './token-routes.ts';
import { zipRouter } from './zip-routes.ts';

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export function createRequestListener(ctx: HandlerContext, extraRoutes: express.Router[] = []): RequestListener {
  const app = createExpressApp(ctx, extraRoutes);
  // Development mode: no token, loopback bind. Checking Host stops DNS rebinding
  // (a web page whose name resolves to 127.0.0.1 reading the logs).
  const devMode = !ctx.auth.enabled && !ctx.config.auth.disabled;
  return (req, res) => {
    logAccess(ctx, req, res);
    if (devMode && !isLoopbackHost(req.headers.host)) {
      sendError(res, new ServiceError('LOGSVC_FORBIDDEN',
        'development mode (no token) answers only requests addressed to localhost / 127.0.0.1; set LOG_SERVICE_GLOBAL_TOKEN to serve other hosts'));
      return;
    }
    if (applyCors(ctx.config.cors, req, res)) return;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (isStreamPath(path)) {
      const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
      routeStream(ctx, req, res, path, query).then(
        (handled) => { if (!handled) app(req, res); },
        (err: unknown) => sendError(res, err, ctx.log),
      );
      return;
    }
    app(req, res);
  };
}

export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return true; // HTTP/1.0 without Host: only reachable on our loopback bind anyway
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  return name === 'localhost' || name === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

function isStreamPath(path: string): boolean {
  return path === '/stream' || path === '/stream/info' || path === '/stream/raw' || path === '/ci/streams' ||
    (path.startsWith('/ci/') && (path.endsWith('/stream') || path.endsWith('/raw')));
}

/** One line per request; 4xx at info, 5xx at error, the rest at debug. Secrets in the URL are redacted. */
function logAccess(ctx: HandlerContext, req: IncomingMessage, res: ServerResponse): void {
  const start = performance.now();
  const log = ctx.log;
  res.once('close', () => {
    const status = res.statusCode;
    ctx.metrics.countRequest(req.method ?? 'GET', status);
    const level = status >= 500 ? 'error' : status >= 400 ? 'info' : 'debug';
    if (!log.isLevelEnabled(level)) return;
    log[level]({ method: req.method, url: redactUrl(req.url ?? ''), status, ms: Math.round(performance.now() - start) }, 'request');
  });
}

function createExpressApp(ctx: HandlerContext, extraRoutes: express.Router[]): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', 'simple');
  app.use(healthRouter(ctx));
  app.use(tokenRouter(ctx));
  app.use(metricsRouter(ctx));
  app.use(blobRouter(ctx));
  app.use(zipRouter(ctx));
  for (const router of extraRoutes) app.use(router);
  app.use((_req: Request, _res: Response, next: NextFunction) => {
    next(new ServiceError('LOGSVC_NOT_FOUND', 'no such route: see the README for the API'));
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    sendError(res, err, ctx.log);
  });
  return app;
}
