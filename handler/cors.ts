// CORS (Fetch standard §3.2): browsers may call the API and tail with
// EventSource from the configured origins. Preflights are answered here for
// every route, before routing, so they never reach auth.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../foundation/config.ts';

const ALLOW_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';
const ALLOW_HEADERS = 'X-Harness-Token, Authorization, Content-Type, Last-Event-ID, Range, If-None-Match, If-Range, X-Push-Id';
const EXPOSE_HEADERS = 'Content-Length, Content-Range, Content-Type, Content-Disposition, ETag, Last-Modified, Accept-Ranges, X-Log-Offset';

/** Sets the CORS headers; true when the request was a preflight and has been answered. */
export function applyCors(cors: Config['cors'], req: IncomingMessage, res: ServerResponse): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return answerPlainOptions(req, res);
  const allowed = cors.origins === '*' || cors.origins.includes(origin);
  if (!allowed) return answerPlainOptions(req, res);
  res.setHeader('Access-Control-Allow-Origin', cors.origins === '*' ? '*' : origin);
  if (cors.origins !== '*') res.setHeader('Vary', 'Origin');
  res.setHeader('Access-Control-Expose-Headers', EXPOSE_HEADERS);
  if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
    res.writeHead(204, {
      'Access-Control-Allow-Methods': ALLOW_METHODS,
      'Access-Control-Allow-Headers': ALLOW_HEADERS,
      'Access-Control-Max-Age': '600',
    });
    res.end();
    return true;
  }
  return false;
}

/** OPTIONS without a CORS preflight: list the methods (RFC 9110 §9.3.7). */
function answerPlainOptions(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method !== 'OPTIONS') return false;
  res.writeHead(204, { Allow: ALLOW_METHODS });
  res.end();
  return true;
}
