// Every request the client makes goes through here: URL building, the token
// header, TLS, the inactivity timeout, the caller's AbortSignal, error replies
// → LogServiceError, and retries with backoff for calls that are safe to repeat.
// Requests go through fetch from the undici package (a dependency), not
// Node's global fetch: the TLS Agent (tls-dispatcher.ts) and the fetch that
// uses it are then one undici, whatever Node bundles. Requests without TLS
// options use undici's global dispatcher, as Node's own fetch would (so a
// process-wide setGlobalDispatcher, e.g. for a proxy, still applies).
import { fetch, type Agent, type RequestInit, type Response } from 'undici';
import { CallDeadline } from './call-deadline.ts';
import { codeForStatus, errorBodyFields, LogServiceError } from './log-service-error.ts';
import { backoffDelay, mayRetry, sleep } from './retry-policy.ts';
import { createTlsDispatcher, type TlsBytes } from './tls-dispatcher.ts';

type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';

/** A request body that can be created once per attempt. */
export interface BodyFactory {
  /** False for one-shot sources: such a request is never retried. */
  replayable: boolean;
  /** Sent as Content-Length when known. */
  length: number | undefined;
  /** A fresh body; `onBytes` is called as chunks are handed to the connection. */
  create(onBytes: (bytes: number) => void): NonNullable<RequestInit['body']>;
}

export interface HttpRequest {
  method: HttpMethod;
  url: URL;
  headers?: Record<string, string>;
  body?: BodyFactory;
  /** Repeating the call has the same effect as sending it once. */
  idempotent: boolean;
  /** Statuses besides 2xx that are answers rather than errors (e.g. 404 for "exists"). */
  accept?: readonly number[];
  /**
   * Statuses that mean success when they answer a retry: the earlier attempt may
   * have been applied before its reply was lost (a second close finds nothing to close).
   */
  acceptOnRetry?: readonly number[];
  /** False for presigned/signed links: no token, redirects followed (S3 may redirect). */
  credentials?: boolean;
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
  /** Overrides the client's retry count (the tail reconnects by itself, so it asks for 0). */
  retries?: number;
  /** Retry a timeout too, when the call is idempotent (a push with X-Push-Id). */
  retryTimeouts?: boolean;
  /**
   * Decides the retries instead of `retries` (a push retries for a time, not a count): called
   * with each failure that may be retried and the reply's Retry-After; returns how long to wait
   * before the next attempt, or undefined to give up (the failure is thrown).
   */
  retryDelay?: (failure: LogServiceError, retryAfter: string | null) => number | undefined;
}

/** A response whose body the caller still has to consume; `deadline.dispose()` when done. */
export interface LiveResponse {
  response: Response;
  deadline: CallDeadline;
  method: HttpMethod;
  url: string;
}

export interface TransportConfig {
  server: URL;
  token: string | undefined;
  timeoutMs: number;
  retries: number;
  retryDelayMs: number;
  /** How long a push retries a failure that may pass (LogServiceClientOptions.pushRetryForMs). */
  pushRetryForMs: number;
  userAgent: string;
  tls: TlsBytes | undefined;
}

const ERROR_BODY_LIMIT = 64 * 1024;
/** Connection errors that prove the request never reached the server. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);
const ERRNO_TEXT: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed while sending',
  UND_ERR_SOCKET: 'connection closed by the other side',
  UND_ERR_CLOSED: 'connection closed',
};

export class HttpTransport {
  private dispatcher: Agent | undefined;

  constructor(readonly config: TransportConfig) {}

  /** A URL under the server's base (its path prefix kept); `path` is already encoded. */
  url(path: string, query?: Record<string, string | undefined>): URL {
    const base = this.config.server;
    const url = new URL(base.href);
    url.pathname = base.pathname.replace(/\/+$/, '') + path;
    url.search = '';
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, value);
    }
    return url;
  }

  /** Sends with retries; resolves with the live response (2xx or `accept`ed), rejects with LogServiceError. */
  async send(req: HttpRequest): Promise<LiveResponse> {
    const retries = req.retries ?? this.config.retries;
    const ctx = { idempotent: req.idempotent, replayable: req.body?.replayable ?? true, timeouts: req.retryTimeouts === true };
    for (let attempt = 0; ; attempt++) {
      const deadline = new CallDeadline(req.timeoutMs ?? this.config.timeoutMs, req.signal);
      let failure: LogServiceError;
      let retryAfter: string | null = null;
      try {
        // The race makes a timeout or abort end the call even if fetch itself never
        // settles (seen with undici when a TLS peer drops the connection after the
        // handshake): an unsettled fetch would leave the CLI hanging.
        const response = await Promise.race([fetch(req.url, this.init(req, deadline)), rejectOnAbort(deadline.signal)]);
        deadline.touch();
        if (response.ok || req.accept?.includes(response.status) || (attempt > 0 && req.acceptOnRetry?.includes(response.status))) {
          return { response, deadline, method: req.method, url: req.url.href };
        }
        retryAfter = response.headers.get('retry-after');
        failure = await errorFromResponse(response, req.method, req.url.href);
      } catch (err) {
        failure = deadline.reasonError(req.method, req.url.href) ?? networkError(err, req.method, req.url.href);
      }
      deadline.dispose();
      if (!mayRetry(failure, ctx) || isTlsFailure(failure)) throw failure;
      if (req.retryDelay !== undefined) {
        const delay = req.retryDelay(failure, retryAfter);
        if (delay === undefined) throw failure;
        await sleep(delay, req.signal);
        continue;
      }
      if (attempt >= retries) throw failure;
      await sleep(backoffDelay(attempt, this.config.retryDelayMs, retryAfter), req.signal);
    }
  }

  /** A call whose reply is JSON. */
  async json(req: HttpRequest): Promise<unknown> {
    const { response, deadline, method, url } = await this.send(req);
    try {
      const text = await response.text();
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new LogServiceError('LOGSVC_BAD_RESPONSE', `${method} ${url}: the reply is not JSON: ${snippet(text)}`, { status: response.status, method, url });
      }
    } catch (err) {
      throw asClientError(err, deadline, method, url);
    } finally {
      deadline.dispose();
    }
  }

  /** A call whose reply is plain text (e.g. GET /token). */
  async text(req: HttpRequest): Promise<string> {
    const { response, deadline, method, url } = await this.send(req);
    try {
      return await response.text();
    } catch (err) {
      throw asClientError(err, deadline, method, url);
    } finally {
      deadline.dispose();
    }
  }

  /** A call whose reply body does not matter; resolves with the status. */
  async status(req: HttpRequest): Promise<number> {
    const { response, deadline, method, url } = await this.send(req);
    try {
      await response.arrayBuffer();
      return response.status;
    } catch (err) {
      throw asClientError(err, deadline, method, url);
    } finally {
      deadline.dispose();
    }
  }

  private init(req: HttpRequest, deadline: CallDeadline): RequestInit {
    const credentials = req.credentials ?? true;
    const headers: Record<string, string> = { 'user-agent': this.config.userAgent, ...req.headers };
    if (credentials && this.config.token !== undefined) headers['x-harness-token'] = this.config.token;
    const init: RequestInit = {
      method: req.method,
      headers,
      signal: deadline.signal,
      // A redirect would carry X-Harness-Token to wherever it points: refuse it (see errorFromResponse).
      redirect: credentials ? 'manual' : 'follow',
    };
    if (req.body !== undefined) {
      if (req.body.length !== undefined) headers['content-length'] = String(req.body.length);
      init.body = req.body.create(() => deadline.touch());
      init.duplex = 'half';
      // WHATWG Fetch §4.5 step 8.1: only a request with no window and redirect "error" is sent
      // as is; any other is cloned first, which tees its body stream, and undici then keeps every
      // chunk of the unread branch (nodejs/undici#4058) — a 100 MB upload would cost 100 MB.
      init.redirect = 'error';
      init.window = null;
    }
    // Custom CAs replace the default trust store, so they apply to the service's own origin only
    // (a presigned S3 link elsewhere is verified against the public roots).
    if (this.config.tls !== undefined && req.url.origin === this.config.server.origin) {
      this.dispatcher ??= createTlsDispatcher(this.config.tls);
      init.dispatcher = this.dispatcher;
    }
    return init;
  }

  /** Releases pooled connections of the TLS dispatcher, if one was made. */
  async close(): Promise<void> {
    const dispatcher = this.dispatcher;
    this.dispatcher = undefined; // a later call makes a new one
    await dispatcher?.close();
  }
}

/** Turns a non-2xx reply into the error it describes: the server's {"error_msg","error_code"}, or the status' meaning. */
async function errorFromResponse(response: Response, method: string, url: string): Promise<LogServiceError> {
  const status = response.status;
  if (status >= 300 && status < 400) {
    await response.body?.cancel();
    const location = response.headers.get('location') ?? '(no Location)';
    return new LogServiceError('LOGSVC_BAD_RESPONSE', `${method} ${url}: the server redirects to ${location}; use that address as the server URL`, {
      status,
      method,
      url,
    });
  }
  const text = method === 'HEAD' ? '' : await readLimited(response, ERROR_BODY_LIMIT);
  const body = parseErrorBody(text);
  if (body !== undefined) return new LogServiceError(body.code, body.message, { status, method, url });
  // Not our catalogue: a proxy's page, or S3's XML error for a presigned link.
  const s3 = /<Code>([^<]*)<\/Code>[\s\S]*?<Message>([^<]*)<\/Message>/.exec(text);
  const detail = s3 !== null ? `${s3[1]}: ${s3[2]}` : text.trim() === '' ? response.statusText || 'no body' : snippet(text);
  return new LogServiceError(codeForStatus(status), `HTTP ${status}: ${detail}`, { status, method, url });
}

function parseErrorBody(text: string): { code: string; message: string } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined; // not JSON
  }
  const fields = errorBodyFields(parsed);
  return fields === undefined ? undefined : { code: fields.code ?? 'LOGSVC_BAD_RESPONSE', message: fields.message };
}

async function readLimited(response: Response, limit: number): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

function snippet(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/** Error code of a failed connection: on the error, its cause, or an AggregateError's first member (happy eyeballs). */
export function errnoOf(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const record = e as { code?: unknown; errors?: unknown; cause?: unknown };
    if (typeof record.code === 'string') return record.code;
    if (Array.isArray(record.errors) && record.errors.length > 0) {
      const first = errnoOf(record.errors[0]);
      if (first !== undefined) return first;
    }
    e = record.cause;
  }
  return undefined;
}

function networkError(err: unknown, method: string, url: string): LogServiceError {
  if (err instanceof LogServiceError) return err;
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error && cause.message === 'unexpected redirect') {
    return new LogServiceError('LOGSVC_BAD_RESPONSE', `${method} ${url}: the server answered with a redirect; use the final address as the server URL`, {
      method,
      url,
      cause: err,
    });
  }
  const errno = errnoOf(err);
  const causeMessage = cause instanceof Error && cause.message !== '' ? cause.message : err instanceof Error ? err.message : String(err);
  const text = errno !== undefined && ERRNO_TEXT[errno] !== undefined ? `${ERRNO_TEXT[errno]} (${errno})` : causeMessage;
  return new LogServiceError('LOGSVC_NETWORK', `${method} ${url}: ${text}`, {
    method,
    url,
    cause: err,
    notSent: errno !== undefined && NOT_SENT.has(errno),
  });
}

/** A failure while reading a body: our timeout/abort, or the connection breaking. */
export function asClientError(err: unknown, deadline: CallDeadline, method: string, url: string): LogServiceError {
  if (err instanceof LogServiceError) return err;
  return deadline.reasonError(method, url) ?? networkError(err, method, url);
}

/** Certificate problems do not go away by retrying. */
function isTlsFailure(err: LogServiceError): boolean {
  if (err.code !== 'LOGSVC_NETWORK') return false;
  const errno = errnoOf(err.cause) ?? '';
  return /CERT|ERR_TLS|ERR_SSL|SELF_SIGNED|UNABLE_TO/.test(errno);
}

/** Rejects when `signal` aborts; never settles otherwise (and holds no timer or listener after the abort). */
function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}
