// The wire contract (DESIGN §4–§6): the shapes that cross HTTP between the
// service and its clients, and the error codes its replies carry. It imports
// nothing, so the client package builds from client/ alone, and the server
// (stream/log-stream.ts, foundation/errors.ts) takes these from here: one
// definition for both sides of the wire.

/** A line as a producer sends it (DESIGN §4, the Harness line shape). */
export interface LineInput {
  level?: string;
  pos?: number;
  out: string;
  time?: string;
  args?: Record<string, unknown>;
}

/** A line as the service stores and serves it. */
export interface LogLine {
  level: string;
  pos: number;
  out: string;
  time: string;
  args?: Record<string, unknown>;
}

/** An open stream as `GET /ci/streams` and `GET /stream/info` report it (keyed by the stream's key). */
export interface StreamInfo {
  /** Lines accepted so far (the next seq). */
  size: number;
  /** Lines the server still holds (the rest were trimmed or skipped: `dropped` for a viewer from the start). Servers before 0.2 do not send it. */
  held?: number;
  /** Viewers on this instance. */
  subscribers: number;
  /** Time left before the idle stream expires, e.g. "4h59m58s". */
  ttl: string;
}

/**
 * Every code of the service's error catalogue: the `error_code` of an error reply
 * `{"error_msg", "error_code"}` (docs/PROTOCOL.md §9.1). foundation/errors.ts maps each to its
 * status and message, and the compiler keeps the two lists equal.
 */
export const ERROR_CODES = [
  'LOGSVC_BAD_REQUEST',
  'LOGSVC_INVALID_KEY',
  'LOGSVC_INVALID_ID',
  'LOGSVC_INVALID_ACCOUNT',
  'LOGSVC_INVALID_JSON',
  'LOGSVC_INVALID_LINE',
  'LOGSVC_INVALID_PARAM',
  'LOGSVC_UNSUPPORTED_MEDIA_TYPE',
  'LOGSVC_UNAUTHORIZED',
  'LOGSVC_FORBIDDEN',
  'LOGSVC_TOKEN_EXPIRED',
  'LOGSVC_LINK_INVALID',
  'LOGSVC_LINK_EXPIRED',
  'LOGSVC_NOT_FOUND',
  'LOGSVC_STREAM_NOT_FOUND',
  'LOGSVC_BLOB_NOT_FOUND',
  'LOGSVC_METHOD_NOT_ALLOWED',
  'LOGSVC_REQUEST_TIMEOUT',
  'LOGSVC_CONFLICT',
  'LOGSVC_BODY_TOO_LARGE',
  'LOGSVC_TOO_MANY_ENTRIES',
  'LOGSVC_HEADERS_TOO_LARGE',
  'LOGSVC_RANGE_NOT_SATISFIABLE',
  'LOGSVC_TOO_MANY_TAILS',
  'LOGSVC_TOO_MANY_STREAMS',
  'LOGSVC_INTERNAL',
  'LOGSVC_BACKEND_UNAVAILABLE',
  'LOGSVC_SHUTTING_DOWN',
  'LOGSVC_STORAGE_FULL',
] as const;

/** A code of the service's error catalogue (client-side failures have codes of their own: `ClientErrorCode`). */
export type ErrorCode = (typeof ERROR_CODES)[number];
