// The client's public types: the HTTP API of DESIGN §4–§6 as TypeScript.
import type { Readable } from 'node:stream';
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

export interface PushOptions extends CallOptions {
  /** Level for lines made from text (default: the server's, "info"). */
  level?: string;
  batch?: BatchLimits;
}

/**
 * What `push` accepts:
 * - a string: text; every line keeps its trailing newline (the last one may have none);
 * - an array: one line per element (a string element becomes `{out}`, with a newline added when it has none);
 * - an async iterable (a Readable, a child's stdout): strings and bytes are chunks of text
 *   split into lines as they arrive; objects are lines.
 */
export type PushSource =
  | string
  | readonly (string | LineInput)[]
  | AsyncIterable<string | Uint8Array | LineInput>;

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
  | { type: 'dropped'; from: number; to: number };

/** An open stream as `GET /ci/streams` or `GET /stream/info` reports it. */
export interface OpenStream extends StreamInfo {
  key: string;
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
