// The one error type the client throws. Callers match on `err.code` (STYLE §2):
// a code of the server's catalogue (listed in client/wire.ts, sent as
// {"error_msg", "error_code"} — docs/PROTOCOL.md §9.1) or one of the client-side codes below.
import type { ErrorCode } from './wire.ts';

/** Failures that happen on the client's side of the wire. */
export type ClientErrorCode =
  /** The server could not be reached, or the connection broke mid-call. */
  | 'LOGSVC_NETWORK'
  /** No progress within `timeoutMs`. */
  | 'LOGSVC_TIMEOUT'
  /** The caller's AbortSignal fired. */
  | 'LOGSVC_ABORTED'
  /** The reply was not what the API promises (not JSON, a redirect, an HTML error page from a proxy). */
  | 'LOGSVC_BAD_RESPONSE'
  /** A push read its whole source but lines were lost on the way (see PushError.undelivered). */
  | 'LOGSVC_INCOMPLETE';

/**
 * Every code a `LogServiceError` can carry. `(string & {})` keeps the type open
 * for codes a newer server may add, while editors still suggest the known ones.
 */
export type LogServiceErrorCode = ErrorCode | ClientErrorCode | (string & {});

export interface LogServiceErrorOptions {
  /** HTTP status, when the server answered. */
  status?: number;
  method?: string;
  url?: string;
  cause?: unknown;
  /** Set when the connection was never established, so nothing reached the server. */
  notSent?: boolean;
}

export class LogServiceError extends Error {
  readonly code: LogServiceErrorCode;
  /** HTTP status of the server's answer; undefined for client-side failures. */
  readonly status: number | undefined;
  readonly method: string | undefined;
  readonly url: string | undefined;
  /** True when the request provably never reached the server (connection refused, DNS failure). */
  readonly notSent: boolean;

  constructor(code: LogServiceErrorCode, message: string, options: LogServiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LogServiceError';
    this.code = code;
    this.status = options.status;
    this.method = options.method;
    this.url = options.url;
    this.notSent = options.notSent ?? false;
  }
}

export function isLogServiceError(err: unknown): err is LogServiceError {
  return err instanceof LogServiceError;
}

/**
 * Code for an error reply that did not carry a catalogue code (a proxy's 502
 * page, an S3 XML error from a presigned link): the catalogue entry with the
 * same meaning, so callers can still match on `code`.
 */
export function codeForStatus(status: number): LogServiceErrorCode {
  switch (status) {
    case 400:
      return 'LOGSVC_BAD_REQUEST';
    case 401:
      return 'LOGSVC_UNAUTHORIZED';
    case 403:
      return 'LOGSVC_FORBIDDEN';
    case 404:
      return 'LOGSVC_NOT_FOUND';
    case 405:
      return 'LOGSVC_METHOD_NOT_ALLOWED';
    case 409:
      return 'LOGSVC_CONFLICT';
    case 413:
      return 'LOGSVC_BODY_TOO_LARGE';
    case 415:
      return 'LOGSVC_UNSUPPORTED_MEDIA_TYPE';
    case 416:
      return 'LOGSVC_RANGE_NOT_SATISFIABLE';
    case 502:
    case 503:
    case 504:
      return 'LOGSVC_BACKEND_UNAVAILABLE';
    default:
      return status >= 500 ? 'LOGSVC_INTERNAL' : 'LOGSVC_BAD_RESPONSE';
  }
}

/**
 * The catalogue code and message of a server's error body (docs/PROTOCOL.md §9.1):
 * `{"error_msg", "error_code"}`. A server older than the client may still name the
 * code `code` (0.1.0 did, as a string): it is accepted when `error_code` is absent.
 * A numeric `code` (Harness's Go error type) is no catalogue code and is ignored.
 * Undefined when `value` carries no string `error_msg`; `code` undefined when it
 * names no `LOGSVC_*` code.
 */
export function errorBodyFields(value: unknown): { code: string | undefined; message: string } | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { error_msg: message, error_code: errorCode, code: legacyCode } = value as Record<string, unknown>;
  if (typeof message !== 'string') return undefined;
  const code = errorCode !== undefined ? errorCode : legacyCode;
  return { code: typeof code === 'string' && code.startsWith('LOGSVC_') ? code : undefined, message };
}

/**
 * A push that failed: the error that ended it (its code, status and message), and what became of
 * the lines. `undelivered` counts the lines read from the source that the server never accepted:
 * those held when the push ended, and those lost on the way (a full buffer during an outage).
 * `code` is the failure's (LOGSVC_BACKEND_UNAVAILABLE, LOGSVC_NETWORK, LOGSVC_STREAM_NOT_FOUND, …),
 * or LOGSVC_INCOMPLETE when the push reached the end of its source with lines missing.
 */
export class PushError extends LogServiceError {
  /** Lines the server accepted. */
  readonly accepted: number;
  /** Lines read from the source and not accepted. */
  readonly undelivered: number;
  /** How long the push retried before it gave up; 0 when it did not give up on a failure that may pass. */
  readonly retriedForMs: number;

  constructor(
    code: LogServiceErrorCode,
    message: string,
    options: LogServiceErrorOptions,
    counts: { accepted: number; undelivered: number; retriedForMs: number },
  ) {
    super(code, message, options);
    this.name = 'PushError';
    this.accepted = counts.accepted;
    this.undelivered = counts.undelivered;
    this.retriedForMs = counts.retriedForMs;
  }

  /** The same failure, with the push's counts. */
  static from(err: LogServiceError, message: string, counts: { accepted: number; undelivered: number; retriedForMs: number }): PushError {
    return new PushError(err.code, message, { status: err.status, method: err.method, url: err.url, cause: err, notSent: err.notSent }, counts);
  }
}
