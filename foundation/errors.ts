// The one error catalogue (CONTRIBUTING.md, habit 1). Every error the service returns has a
// stable `code` from this table and the status it maps to. Backends and
// handlers throw `ServiceError`s; handler/error-response.ts renders them as
// {"error_msg", "error_code"} (docs/PROTOCOL.md §9). The README's error table is checked
// against this list by test/errors-catalogue.test.ts.
//
// The codes themselves are part of the wire contract and listed in
// client/wire.ts (the client matches on them without importing the server).
// The `satisfies` below keeps the two lists one: a code listed there but
// missing here is a missing property, a code added here but not there is an
// excess property — both fail the typecheck.
import type { ErrorCode } from '../client/wire.ts';

export type { ErrorCode };

/** What the service answers with for one code. */
export interface ErrorEntry {
  status: number;
  message: string;
}

export const ERRORS = {
  LOGSVC_BAD_REQUEST: { status: 400, message: 'the request is malformed' },
  LOGSVC_INVALID_KEY: { status: 400, message: 'invalid key' },
  LOGSVC_INVALID_ID: { status: 400, message: 'invalid CI id' },
  LOGSVC_INVALID_ACCOUNT: { status: 400, message: 'invalid accountID' },
  LOGSVC_INVALID_JSON: { status: 400, message: 'the body is not valid JSON' },
  LOGSVC_INVALID_LINE: { status: 400, message: 'a line is not a valid log line' },
  LOGSVC_INVALID_PARAM: { status: 400, message: 'a query parameter is invalid' },
  LOGSVC_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'unsupported Content-Type' },
  LOGSVC_UNAUTHORIZED: { status: 401, message: 'no credentials: send X-Harness-Token or Authorization: Bearer' },
  LOGSVC_FORBIDDEN: { status: 403, message: 'the token does not grant this' },
  LOGSVC_TOKEN_EXPIRED: { status: 403, message: 'the token has expired' },
  LOGSVC_LINK_INVALID: { status: 403, message: 'the link signature does not match' },
  LOGSVC_LINK_EXPIRED: { status: 403, message: 'the link has expired' },
  LOGSVC_NOT_FOUND: { status: 404, message: 'no such route' },
  LOGSVC_STREAM_NOT_FOUND: { status: 404, message: 'no open stream with this key' },
  LOGSVC_BLOB_NOT_FOUND: { status: 404, message: 'no blob with this key' },
  LOGSVC_METHOD_NOT_ALLOWED: { status: 405, message: 'method not allowed on this route' },
  LOGSVC_REQUEST_TIMEOUT: { status: 408, message: 'the request body did not arrive in time' },
  LOGSVC_CONFLICT: { status: 409, message: 'conflict' },
  LOGSVC_BODY_TOO_LARGE: { status: 413, message: 'the request body is too large' },
  LOGSVC_TOO_MANY_ENTRIES: { status: 413, message: 'too many blobs under the prefix' },
  LOGSVC_HEADERS_TOO_LARGE: { status: 431, message: 'the request headers are too large' },
  LOGSVC_RANGE_NOT_SATISFIABLE: { status: 416, message: 'the range is outside the blob' },
  LOGSVC_TOO_MANY_TAILS: { status: 429, message: 'too many open tails for this account' },
  LOGSVC_TOO_MANY_STREAMS: {
    status: 429,
    message: 'the server holds as many streams as it may (open, or closed in their grace period); close finished streams or retry later',
  },
  LOGSVC_INTERNAL: { status: 500, message: 'internal error' },
  LOGSVC_BACKEND_UNAVAILABLE: { status: 503, message: 'a backend is unavailable; retry later' },
  LOGSVC_SHUTTING_DOWN: { status: 503, message: 'the server is shutting down' },
  LOGSVC_STORAGE_FULL: { status: 507, message: 'the blob store has no room left (disk or quota full); nothing was stored' },
} as const satisfies Record<ErrorCode, ErrorEntry>;

/**
 * Marks a ServiceError across copies of this module. One process can hold two:
 * a module loaded through require() and again through a dynamic import()
 * (mocha loads the tests through tsx's require hook; app/services.ts imports
 * the Redis and S3 backends dynamically), and `instanceof` fails across them.
 */
const SERVICE_ERROR = Symbol.for('log-service.ServiceError');

export class ServiceError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERRORS[code].message, options);
    this.name = 'ServiceError';
    this.code = code;
    this.status = ERRORS[code].status;
    Object.defineProperty(this, SERVICE_ERROR, { value: true });
  }
}

/** Use this, never `instanceof ServiceError`: it also knows errors from another copy of this module. */
export function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && (err as unknown as Record<symbol, unknown>)[SERVICE_ERROR] === true;
}
