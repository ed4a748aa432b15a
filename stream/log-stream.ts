// The LogStream interface: what handlers need from a live-stream backend
// (docs/BACKENDS.md). Backends: memory (ring buffer) and redis (Redis Streams).
// Names are internal stream names, `<accountID>/<key>` (docs/PROTOCOL.md §3).
// The line and info shapes are the wire contract: client/wire.ts defines them,
// and they are re-exported here for the server's modules.
import type { LineInput, LogLine, StreamInfo } from '../client/wire.ts';

export type { LineInput, LogLine, StreamInfo };

/**
 * An accepted line, encoded once at push time so that every viewer shares the
 * same bytes (no per-viewer serialisation). Built only by `encodeLine`.
 */
export interface StoredLine {
  readonly seq: number;
  /** Byte offset of this line's `out` in the log text (concatenation of `out`). */
  readonly offset: number;
  /** UTF-8 length of `out`. */
  readonly textBytes: number;
  /** The whole SSE event: `id: <seq>\ndata: <json>\n\n`. */
  readonly event: Buffer;
  /** Where the line's JSON starts inside `event` (it ends 2 bytes before the end). */
  readonly jsonStart: number;
}

/** The older lines of one push that the stream could not have retained: appended as a gap. */
export interface SkippedLines {
  lines: number;
  /** Their text bytes (after the line limit's cut), so the byte offsets of the kept lines stay true. */
  textBytes: number;
}

export interface PushOptions {
  /** Seqs (and text bytes) to leave out before the pushed lines: viewers see them as dropped. */
  skipped?: SkippedLines;
  /**
   * The producer's id for this batch (X-Push-Id): a batch retried with an id
   * the stream already took is not stored again (the last 256 ids of a stream
   * are remembered), and push answers the first seq it got then.
   */
  pushId?: string;
}

/** Lines a viewer needed that are no longer retained (inclusive seq range). */
export interface DroppedRange {
  from: number;
  to: number;
}

export interface ReadBatch {
  /**
   * Set when the stream was opened again while this cursor read it: the old
   * lines are gone and the cursor now reads the new stream from this seq (0).
   */
  restart?: number;
  /** Set when the cursor had to skip lines that were trimmed away. */
  dropped?: DroppedRange;
  /** Consecutive lines, in seq order, starting at the cursor. */
  lines: StoredLine[];
  /** True when the stream is closed and there is nothing after `lines`. */
  end: boolean;
}

/** Where a new cursor starts. */
export type CursorStart =
  | { kind: 'beginning' }
  /** After the line with this seq (SSE Last-Event-ID / ?from=). */
  | { kind: 'after'; seq: number }
  /** At the last `lines` lines. */
  | { kind: 'tail'; lines: number };

/**
 * One viewer's position in one stream. It reads the stream's shared history at
 * its own pace; it holds no copy of lines it has not read yet.
 */
export interface StreamCursor {
  /** Next seq this cursor will return. */
  readonly position: number;
  /** Lines from the cursor on, at most `maxLines` / about `maxBytes`; advances the cursor. */
  read(maxLines: number, maxBytes: number): Promise<ReadBatch>;
  /** Resolves when there may be something new to read (lines, close) or `signal` aborts. */
  waitForMore(signal: AbortSignal): Promise<void>;
  /** Stops counting this viewer as a subscriber. Idempotent. */
  release(): void;
}

export interface OpenOptions {
  /** Idle expiry for this stream; the backend default when absent. */
  ttlSeconds?: number;
}

export interface LogStream {
  /**
   * Opens a stream. Opening an open stream starts it again, empty, at seq 0
   * (as Harness does: a retried step that reuses its key shows only the new
   * run); its cursors read on from the new stream, their next batch saying
   * `restart`.
   */
  open(name: string, options?: OpenOptions): Promise<void>;
  /**
   * Appends lines, assigning consecutive seqs (after `options.skipped`, which
   * starts them later and drops every retained line). Returns the first seq given.
   * Throws LOGSVC_STREAM_NOT_FOUND when the stream is not open.
   */
  push(name: string, lines: LineInput[], options?: PushOptions): Promise<number>;
  /**
   * Closes a stream: pushes fail from now on, viewers drain what is left and
   * end. The closed stream's lines stay readable (cursor, lines) for a short
   * grace period so a snapshot can be taken and late viewers can finish; then
   * it is gone. Opening the name again starts a new stream at seq 0.
   * False when it was not open.
   */
  close(name: string): Promise<boolean>;
  /** True while the stream is open (not closed, not expired). */
  exists(name: string): Promise<boolean>;
  /** A cursor on an open or just-closed stream, or null when there is none. */
  cursor(name: string, start: CursorStart): Promise<StreamCursor | null>;
  /** Every retained line of an open or just-closed stream, in order (for snapshots). */
  lines(name: string): AsyncIterable<StoredLine>;
  /** Open streams whose names start with `prefix`. */
  info(prefix: string): Promise<Map<string, StreamInfo>>;
  /** Names of open streams under `prefix` (for DELETE ?prefix=true). */
  list(prefix: string): Promise<string[]>;
  /** What this process holds of the streams' lines, when the backend keeps them in memory (for /metrics). */
  memoryUsage?(): StreamMemoryUsage;
  /** Throws when the backend cannot serve (readiness). */
  ping(): Promise<void>;
  /** Ends every cursor's wait and releases resources. */
  shutdown(): Promise<void>;
}

export interface StreamMemoryUsage {
  /** Bytes of encoded lines held, across every stream. */
  bytes: number;
  /** The whole-process budget for them. */
  budgetBytes: number;
  /** Lines trimmed early (before their stream's own limits) to keep within the budget. */
  trimmedLines: number;
}

export interface StreamLimits {
  /** Lines kept per stream. */
  maxLines: number;
  /** Bytes of encoded lines kept per stream. */
  maxBytes: number;
  /** Idle expiry in seconds when `open` gives none. */
  ttlSeconds: number;
  /** Longest `out` in bytes; longer is truncated with a marker. */
  maxLineBytes: number;
  /** How long a closed stream stays readable for snapshots and draining viewers. */
  closedGraceSeconds: number;
}
