// The LogStream interface: what handlers need from a live-stream backend
// (docs/BACKENDS.md). Backends: memory (ring buffer) and redis (Redis Streams).
// Names are internal stream names, `<accountID>/<key>` (docs/PROTOCOL.md §3).
// The line and info shapes are the wire contract: client/wire.ts defines them,
// and they are re-exported here for the server's modules.
import type { LineInput, LogLine, StreamInfo } from '../client/wire.ts';
import type { SnapshotRows } from './snapshot-rows.ts';

export type { LineInput, LogLine, StreamInfo };

/**
 * An accepted line, encoded once at push time so that every viewer shares the
 * same bytes (no per-viewer serialisation). Built only by stream/line-codec.ts
 * (its `EncodedLine`, the one shape every line has).
 */
export interface StoredLine {
  readonly seq: number;
  /** Byte offset of this line's `out` in the log text (concatenation of `out`). */
  readonly offset: number;
  /** UTF-8 length of `out`. */
  readonly textBytes: number;
  /**
   * The buffer holding this line's SSE event (`id: <seq>\ndata: <json>\n\n`)
   * from `eventStart`, `eventBytes` long: one buffer for the lines of a push
   * or a chunk, their events back to back in seq order. No Buffer view per
   * line: a line the ring or the archive holds is one small object, which
   * halved what the garbage collector marks and moves under ingest
   * (BENCHMARKS.md, "ingest, 2026-12-06").
   */
  readonly eventRun: Buffer;
  readonly eventStart: number;
  readonly eventBytes: number;
  /** The event as a view of `eventRun`, made at each read: for single lines and tests (joinEvents sends runs). */
  readonly event: Buffer;
  /** Where the line's JSON starts inside the event (it ends 2 bytes before the event's end). */
  readonly jsonStart: number;
  /**
   * The UTF-8 bytes of `out`, for the byte readers (raw, TCP tail), as part of
   * the run of lines they were encoded with: at push, one run per push; per
   * archived chunk; or decoded once from the JSON (line-codec's `joinText`) as
   * a run of one line. No reader decodes JSON (issue 18 §2, docs/ARCHIVE.md).
   */
  texts?: TextRun;
}

/**
 * The texts of consecutive lines (one push, one chunk) back to back in one
 * buffer, shared by those lines: a line's text is `bytes` from
 * `line.offset - firstOffset`, `line.textBytes` long. One object per run
 * instead of a Buffer view per line, and consecutive lines of a run are one
 * slice (line-codec's `joinText`). Lines that share a run also have their
 * events back to back, in seq order, in one buffer (`joinEvents` sends them as
 * one view): whoever builds lines with a shared run keeps that true.
 */
export interface TextRun {
  readonly bytes: Buffer;
  readonly firstOffset: number;
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
  /**
   * A byte append's lines (stream/text-append.ts): stored only when the
   * stream's text end and held partial line are still `textEnd` and
   * `pending`, atomically with setting the held partial line to `next`;
   * otherwise the push throws TextGuardConflict and stores nothing.
   */
  textGuard?: TextGuard;
  /**
   * The body the lines were parsed from, when a backend may keep the push as
   * sent (stream/raw-block.ts): a JSON array of exactly these lines, every
   * byte ASCII. Set by the push handlers (HTTP: the body read whole; gRPC:
   * the checked batch as JSON); a backend that cannot use it ignores it.
   */
  asSent?: Buffer;
}

/** The most lines a scanned push holds (a bigger push is appended in slices, archive/archived-log-stream.ts, which takes its lines). */
export const MAX_SCANNED_LINES = 10_000;

/**
 * A JSON array push checked and measured without being parsed into line
 * objects (handler/sent-scan.ts): all a backend that keeps a push as sent
 * (stream/raw-block.ts) needs of it, for the pushes whose lines it does not
 * otherwise read (LogStream.pushScanned).
 */
export interface ScannedPush {
  /** A JSON array of `lines` line objects, every byte ASCII, no line over the line limit. */
  readonly body: Buffer;
  readonly lines: number;
  /** Text bytes of all its lines (UTF-8). */
  readonly textBytes: number;
  /**
   * What each line counts, packed (raw-block.ts packLineFacts): `facts[i + 1]`
   * for line i. Turned into the push's per-line counts in place when stored:
   * a scanned push is stored once.
   */
  readonly facts: Uint32Array;
}

/**
 * A push kept as sent (stream/raw-block.ts), as the archive writer copies it
 * into a chunk: its body, and what encoding its lines needs besides.
 */
export interface SentPush {
  readonly firstSeq: number;
  readonly lines: number;
  /** Text offset of its first line. */
  readonly firstOffset: number;
  /** Text bytes of its lines. */
  readonly textBytes: number;
  /** The time its lines without one got (the push's). */
  readonly time: string;
  /** The JSON array body, ASCII. */
  readonly body: Buffer;
}

interface TextGuard {
  textEnd: number;
  pending: Buffer;
  next: Buffer;
}

/** Where a stream's text ends, for byte appends and byte ranges. */
export interface TextState {
  /** Open (false: closed, within its grace period). */
  open: boolean;
  /** Bytes of the lines' text: what raw readers can read. */
  textEnd: number;
  /** The held partial line of byte appends (no newline yet); empty for line pushes. */
  pending: Buffer;
  /** The stream's generation (StreamCursor.generation): a tail of an earlier stream under the name must not take this one's bytes. */
  generation: number;
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
  /**
   * Consecutive lines, in seq order, starting at the cursor. Read-only: the
   * viewers of a stream that read the same lines share one array (LineRing.slice).
   */
  lines: readonly StoredLine[];
  /**
   * Instead of `lines`, for the archive writer's cursor only
   * (CursorOptions.holdsLines) on a backend that keeps pushes as sent:
   * consecutive pushes from the cursor, whose lines nobody has read yet.
   */
  pushes?: readonly SentPush[];
  /** True when the stream is closed and there is nothing after `lines`. */
  end: boolean;
  /**
   * True when `lines` reach the newest line there is now, so a read right
   * after would find nothing: a tail then waits (waitForMore returns at once
   * if more came meanwhile) instead of asking again. Unset: not known.
   */
  atHead?: boolean;
}

/** A byte reader's cursor and the offset it starts at: resolved to ≥ 0 by LogStream.cursorAtOffset, as asked otherwise. */
export interface OffsetCursor {
  cursor: StreamCursor;
  offset: number;
}

/** Where a new cursor starts. */
export type CursorStart =
  | { kind: 'beginning' }
  /** After the line with this seq (SSE Last-Event-ID / ?from=). */
  | { kind: 'after'; seq: number }
  /** At the last `lines` lines. */
  | { kind: 'tail'; lines: number };

export interface CursorOptions {
  /**
   * The archive writer's cursor (docs/ARCHIVE.md §3): the memory ring keeps the
   * lines it has not read past the ring's line bound, up to its byte bound, so
   * a writer delayed by a busy event loop does not lose lines. Backends that
   * cannot hold lines for a reader (Redis trims by its own bounds) ignore it.
   */
  holdsLines?: boolean;
  /**
   * A cursor that passes once and keeps nothing (a probe of the last line):
   * the memory ring makes its lines for it alone, and its reads do not count
   * toward a block keeping its line objects (line-block.ts). Others ignore it.
   */
  passing?: boolean;
}

/**
 * What ends a cursor's wait early: an AbortSignal, or something as small that
 * says so and calls one listener back (the follow loop's, handler/tail/follow.ts:
 * an idle tail then holds no AbortController of its own).
 */
export interface WaitSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * One viewer's position in one stream. It reads the stream's shared history at
 * its own pace; it holds no copy of lines it has not read yet.
 */
export interface StreamCursor {
  /** Next seq this cursor will return. */
  readonly position: number;
  /**
   * Which opening of the name the cursor reads (it changes when a batch says
   * `restart`): a number that grows with every open of a name, the same on
   * every instance (docs/ARCHIVE.md: the archive keys its chunks by it).
   */
  readonly generation: number;
  /** Lines from the cursor on, at most `maxLines` / about `maxBytes`; advances the cursor. */
  read(maxLines: number, maxBytes: number): Promise<ReadBatch>;
  /** Resolves when there may be something new to read (lines, close) or `signal` aborts. */
  waitForMore(signal: WaitSignal): Promise<void>;
  /** Stops counting this viewer as a subscriber. Idempotent. */
  release(): void;
}

export interface OpenOptions {
  /** Idle expiry for this stream; the backend default when absent. */
  ttlSeconds?: number;
  /**
   * Leave a stream that is already open as it is instead of starting it again
   * (atomic: of concurrent opens on any instance, none empties the stream).
   * For producers that open on their first line, such as go-scribe's Log.
   */
  keepOpen?: boolean;
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
   * Appends a push scanned instead of parsed (ScannedPush), as push would its
   * lines. Present on a backend that keeps pushes as sent and reads nothing
   * else of them at push (the memory ring); absent elsewhere (Redis, the
   * scribe tee, which write each line): the push handler then parses the body
   * and calls push. The handler scans only what the backend may keep as sent
   * (keepsWholePush: the ring under its archive).
   */
  pushScanned?(name: string, push: ScannedPush, options?: PushOptions): Promise<number>;
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
  cursor(name: string, start: CursorStart, options?: CursorOptions): Promise<StreamCursor | null>;
  /** Every retained line of an open or just-closed stream, in order (for snapshots). */
  lines(name: string): AsyncIterable<StoredLine>;
  /**
   * The text end and held partial line of an open or just-closed stream, or
   * null when there is none. Absent on a backend that takes no byte appends.
   */
  textState?(name: string): Promise<TextState | null>;
  /** Open streams whose names start with `prefix`. */
  info(prefix: string): Promise<Map<string, StreamInfo>>;
  /** Names of open streams under `prefix` (for DELETE ?prefix=true). */
  list(prefix: string): Promise<string[]>;
  /** What this process holds of the streams' lines, when the backend keeps them in memory (for /metrics). */
  memoryUsage?(): StreamMemoryUsage;
  /**
   * True when every line of a push reaches the archive however many lines the
   * push has (the memory ring holds what its archive writer has not read, up
   * to its byte bound): the push body then keeps all its lines, not only the
   * ring's last maxLines (docs/PROTOCOL.md §4.3). Set by ArchivedLogStream.
   */
  readonly keepsWholePush?: boolean;
  /**
   * The whole log as snapshot rows, for the finished log written at close:
   * archived chunks as stored (their bodies are snapshot rows), then the lines
   * not archived yet — no decode and re-encode of what the archive holds.
   * Set by ArchivedLogStream; without it the rows are made from `lines`.
   */
  snapshotRows?(name: string): AsyncIterable<SnapshotRows>;
  /**
   * A cursor for a byte reader starting at text offset `offset` (negative:
   * the last |offset| bytes of what is there now), positioned at the chunk
   * that holds it rather than at seq 0, and the offset resolved to ≥ 0; the
   * reader skips the lines before it (docs/ARCHIVE.md §4). Set by
   * ArchivedLogStream; without it a byte reader starts at the beginning.
   */
  cursorAtOffset?(name: string, offset: number): Promise<OffsetCursor | null>;
  /**
   * Takes or renews the lease that makes `owner` the one archive writer of
   * `name` for `ttlMs` (docs/ARCHIVE.md); false while another owner holds it.
   * Absent on backends that live in one process (the memory ring): there the
   * process is always the writer.
   */
  archiveLease?(name: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease back when `owner` holds it (the stream ended, the server stops). */
  releaseArchiveLease?(name: string, owner: string): Promise<void>;
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

/** A byte reader's cursor at `offset`: the stream's own (cursorAtOffset), or one from the beginning that the reader skips through. */
export async function openAtOffset(stream: LogStream, name: string, offset: number): Promise<OffsetCursor | null> {
  if (stream.cursorAtOffset !== undefined) return stream.cursorAtOffset(name, offset);
  const cursor = await stream.cursor(name, { kind: 'beginning' });
  return cursor === null ? null : { cursor, offset };
}
