// Renders any error as the catalogue's JSON shape {"error_msg", "error_code"} with
// its status (docs/PROTOCOL.md §9). Unknown errors become LOGSVC_INTERNAL and are logged;
// their text never reaches the client.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { isServiceError, ServiceError, type ErrorCode } from '../foundation/errors.ts';
import { bodyStillArriving, discardBody } from './linger.ts';

/**
 * The one error body of every route (docs/PROTOCOL.md §9.1): `error_msg` for people,
 * `error_code` the catalogue code. No field is named `code`: Harness's Go client
 * decodes `code` as an int, and a string there fails its decode of the whole body.
 */
export function errorBody(code: ErrorCode, message: string): { error_msg: string; error_code: ErrorCode } {
  return { error_msg: message, error_code: code };
}

/** What a 503 tells clients to wait before they retry. */
const RETRY_AFTER_SECONDS = '2';

function toServiceError(err: unknown, log?: Logger): ServiceError {
  if (isServiceError(err)) return err;
  const e = err as { type?: string; status?: number; code?: string };
  // Errors node:http and body readers raise for client mistakes.
  if (e?.code === 'ERR_STREAM_PREMATURE_CLOSE' || e?.code === 'ECONNRESET') {
    return new ServiceError('LOGSVC_BAD_REQUEST', 'the request body was cut off');
  }
  // Express and node:http mark client mistakes (bad percent-encoding, ...) with a 4xx status.
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    return new ServiceError(e.status === 413 ? 'LOGSVC_BODY_TOO_LARGE' : 'LOGSVC_BAD_REQUEST');
  }
  log?.error({ err }, 'unexpected error');
  return new ServiceError('LOGSVC_INTERNAL');
}

export function sendError(res: ServerResponse, err: unknown, log?: Logger): void {
  const error = toServiceError(err, log);
  // What the caller is not told (a backend's own error) goes to the log.
  if (error.status >= 500 && error.cause !== undefined) log?.warn({ err: error.cause, code: error.code }, error.message);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(errorBody(error.code, error.message));
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  };
  // RFC 9110 §10.2.3: a 503 says when to come back (a Redis failover, a restart).
  if (error.status === 503) headers['Retry-After'] = RETRY_AFTER_SECONDS;
  const answer = () => {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(error.status, headers);
    res.end(body);
  };
  const req = res.req as IncomingMessage | undefined;
  // A body that stopped arriving is not waited for.
  if (req === undefined || !bodyStillArriving(req) || error.code === 'LOGSVC_REQUEST_TIMEOUT') {
    if (error.code === 'LOGSVC_REQUEST_TIMEOUT') headers.Connection = 'close';
    answer();
    return;
  }
  // Any other refused body is read to its end, bounded (linger.ts), so that the
  // client can read this answer. On a kept-alive connection the answer goes
  // first; on one that closes after the answer (Connection: close, HTTP/1.0),
  // after the body, or node would close the socket under the client's writes.
  const cut = () => req.socket.destroy();
  if (res.shouldKeepAlive) {
    answer();
    void discardBody(req, cut);
  } else {
    void discardBody(req, cut).then(answer);
  }
}
