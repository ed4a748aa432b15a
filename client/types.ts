// The client's public types: the HTTP API of DESIGN §4–§6 as TypeScript.
import type { Readable } from 'node:stream';
import type { LogServiceError } from './log-service-error.ts';
import type { LineInput, LogLine, StreamInfo } from './wire.ts';

export type { LineInput, LogLine, StreamInfo };

/** A CI step, addressed by the path routes `/ci/:project/:build/:stage/:step/…` (DESIGN §5.2). */
export interface CiAddress {
  project: string;
  build: string;
  stage: string;
  step: string;
}

/** A Harness key, addressed by the query routes `/stream?accountID=&key=` (DESIGN §5.1). */
export interface HarnessAddress {
  accountID: string;
  key: string;
}

export type Address = CiAddress | HarnessAddress;

/** PEM material: a file path, or the bytes themselves. */
export type PemSource = string | Buffer;

export interface LogServiceClientOptions {
  /**
   * Base URL of the service, e.g. "http://127.0.0.1:8079" (a path prefix is kept).
   * Default: http://127.0.0.1:8079. The constructor reads no environment variable:
   * `LogServiceClient.fromEnv()` takes this from `LOG_SERVICE_SERVER`.
   */
  server?: string | URL;
  /**
   * Sent as `X-Harness-Token`. Default: none (`null` and "" also mean none).
   * `LogServiceClient.fromEnv()` takes it from `LOG_SERVICE_TOKEN`, but only
   * together with the server from `LOG_SERVICE_SERVER`.
   */
  token?: string | null;
  /**
   * Longest time a call may go without progress (no response headers, no body
   * bytes sent or received), in ms. Default 30 000. Infinity disables it.
   */
  timeoutMs?: number;
  /** Extra attempts for calls that are safe to repeat (DESIGN: idempotent calls, replayable bodies). Default 3. */
  retries?: number;
  /** First backoff delay in ms; doubles per attempt (capped at 5 s), with jitter. Default 200. */
  retryDelayMs?: number;
  /**
   * How long a push keeps retrying a failure that may pass (503, connection refused or reset,
   * no progress for `timeoutMs`) before it gives up, in ms; counted from the first failure of
   * an outage, and again after each recovery. Default 300 000 (5 minutes). `PushOptions.retryForMs`
   * overrides it per push.
   */
  pushRetryForMs?: number;
  /** CA certificate(s) to trust for the server (path or PEM bytes). */
  ca?: PemSource;
  /** Client certificate for mutual TLS (path or PEM bytes). */
  cert?: PemSource;
  /** Key of the client certificate (path or PEM bytes). */
  key?: PemSource;
  /** Sent as User-Agent. */
  userAgent?: string;
}

/** Every call accepts these. */
export interface CallOptions {
  signal?: AbortSignal;
  /** Overrides the client's `timeoutMs` for this call. */
  timeoutMs?: number;
}

export interface OpenOptions extends CallOptions {
  /** Idle expiry for the stream (sent as `timeout_seconds`); the server's default when absent. */
  ttlSeconds?: number;
}

export interface CloseOptions extends CallOptions {
  /** Write the stream to the blob store under the same key before closing it. */
  snapshot?: boolean;
}

/** When a push sends a batch: whichever limit is reached first. */
export interface BatchLimits {
  /** Default 1000. */
  maxLines?: number;
  /** Bytes of NDJSON per request; default 256 KiB (the server takes at most 8 MiB). */
  maxBytes?: number;
  /** Longest time a line waits for its batch; default 100 ms. */
  intervalMs?: number;
}

/** Where a push keeps the lines it has read and not yet sent (see `PushOptions.buffer`). */
export interface PushBufferOptions {
  /** Bytes of encoded lines (NDJSON) kept in memory; past it they go to a temporary file. Default 16 MiB. */
  memoryBytes?: number;
  /** Bytes held in all, memory and file. Default 1 GiB. */
  maxBytes?: number;
  /** Directory of the temporary file. Default: the system's (os.tmpdir(), i.e. $TMPDIR or /tmp). */
  dir?: string;
}

export interface PushOptions extends CallOptions {
  /** Level for lines made from text (default: the server's, "info"). */
  level?: string;
  batch?: BatchLimits;
  /**
   * How long to keep retrying a failure that may pass before giving up, in ms (see
   * `LogServiceClientOptions.pushRetryForMs`, default 5 minutes). 0 gives up at the first failure.
   */
  retryForMs?: number;
  /**
   * The source is read as fast as it produces, whatever the service does: lines wait here while
   * a batch is sent or retried. When it is full, reading waits while the service accepts lines;
   * while the service is failing, the lines that do not fit are dropped (and the push fails at
   * its end, saying how many).
   */
  buffer?: PushBufferOptions;
  /**
   * After an outage the stream may be gone (Redis restarted without persistence, an in-memory
   * server was restarted): the push opens it again and continues there, instead of failing with
   * LOGSVC_STREAM_NOT_FOUND. Only after an outage: a stream that was never opened, or closed
   * while the service was reachable, still fails the push. Default true; `{ ttlSeconds }` sets
   * the reopened stream's idle expiry (default: the server's).
   */
  reopen?: boolean | { ttlSeconds?: number };
  /** Told when a push starts retrying, recovers, reopens its stream, or its buffer overflows. */
  onEvent?: (event: PushEvent) => void;
}

/** What happens to a push on the way (`PushOptions.onEvent`). */
export type PushEvent =
  /** A batch failed in a way that may pass; the push retries it for up to `retryForMs`, reading its source meanwhile. */
  | { type: 'retrying'; error: LogServiceError; retryForMs: number }
  /** After an outage the stream was gone (`error`: the 404); the push opened it again and continues from its first line. */
  | { type: 'reopened'; error: LogServiceError }
  /** A batch went through after `retrying`: `pendingLines` read meanwhile are on their way. */
  | { type: 'recovered'; afterMs: number; attempts: number; pendingLines: number }
  /** The buffer is full (`maxBytes`) while the service is failing: lines are dropped until it recovers. */
  | { type: 'buffer-full'; maxBytes: number };

/**
 * What `push` accepts:
 * - a string: text; every line keeps its trailing newline (the last one may have none);
 * - an array: one line per element (a string element becomes `{out}`, with a newline added when it has none);
 * - an async iterable (a Readable, a child's stdout): strings and bytes are chunks of text
 *   split into lines as they arrive; objects are lines.
 */
export type PushSource = string | readonly (string | LineInput)[] | AsyncIterable<string | Uint8Array | LineInput>;

export interface PushResult {
  /** Lines accepted by the server. */
  lines: number;
  /** Requests sent. */
  requests: number;
}

export interface TailOptions extends CallOptions {
  /** Continue after the line with this seq (resume point). */
  from?: number;
  /** Start at the last N lines. */
  tail?: number;
  /**
   * Reconnect when nothing (not even a keep-alive ping) arrives for this long, in ms.
   * Default 45 000 (three of the server's default 15 s pings).
   */
  idleTimeoutMs?: number;
  /**
   * Once connected, give up when reconnecting keeps failing for this long, in ms. Default 60 000.
   * (A first connection that fails is retried like any call, `retries` times.)
   */
  reconnectForMs?: number;
}

/** One event of a tail (DESIGN §6). */
export type TailEvent =
  | { type: 'line'; seq: number; line: LogLine }
  /** Lines `from`..`to` (inclusive) are no longer retained: they are reported, never skipped silently. */
  | { type: 'dropped'; from: number; to: number }
  /**
   * The key holds a new stream (closed and opened again, or lost by the server and opened again
   * by its producer): the tail follows it from `from`, its first line. `after` is the last seq
   * seen of the earlier stream (undefined when none was); what that stream had after it is lost.
   */
  | { type: 'restart'; from: number; after: number | undefined };

/** An open stream as `GET /ci/streams` or `GET /stream/info` reports it. */
export interface OpenStream extends StreamInfo {
  key: string;
  /** Lines the server still holds, when it says (a server that reports only `size` leaves it out). */
  held?: number;
}

/** What an upload reads from. A string is a file path; Buffers and file paths can be re-sent on retry. */
export type UploadSource = string | Uint8Array | Readable | AsyncIterable<Uint8Array>;

export interface TransferProgress {
  /** Bytes sent or received so far. */
  transferred: number;
  /** Total bytes, when known. */
  total: number | undefined;
}

export interface UploadOptions extends CallOptions {
  contentType?: string;
  /** Size of a Readable source, when known (sent as Content-Length; S3 presigned PUTs need it). */
  contentLength?: number;
  onProgress?: (progress: TransferProgress) => void;
}

/** RFC 9110 §14.1.2: a first-last range (last inclusive, open-ended when absent) or a suffix of `suffix` bytes. */
export type ByteRange = { start: number; end?: number } | { suffix: number };

export interface DownloadOptions extends CallOptions {
  range?: ByteRange;
  onProgress?: (progress: TransferProgress) => void;
}

export interface BlobStat {
  size: number;
  contentType: string | undefined;
  etag: string | undefined;
}

/** A presigned or signed link (DESIGN §5.1): `expires` is in nanoseconds, as the server sends it. */
export interface Link {
  link: string;
  expires: number;
}

/** What `mintToken` asks for. */
export interface TokenRequest {
  accountID: string;
  /** Limit the token to keys under this prefix (needs `access`). */
  key?: string;
  /** Limit the token to reading (tail, download, info) or writing (open, push, close, upload). */
  access?: 'read' | 'write';
  /** Lifetime in seconds (server default 48 h). */
  ttlSeconds?: number;
}
