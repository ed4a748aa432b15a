// The stream tee (docs/SCRIBE.md §3): a LogStream that stores every pushed
// line in the real backend and also appends it to the stream's scribe file
// and, with --console, prints it. Whatever way a line arrives (HTTP push, gRPC
// Push, go-scribe Log) it reaches the file, because they all push here.
//
// Order of a push: (1) room is reserved in the file's queue, so a full queue
// or a name no file can have is refused before anything is stored; (2) the
// backend stores the lines (viewers see them at once: the disk never holds the
// stream up); (3) the caller's answer waits until the file has them, so a
// write that failed (disk full, permission) is that caller's error, never a
// silent loss, and the next write is tried afresh.
import type { Writable } from 'node:stream';
import {
  openAtOffset,
  type CursorStart,
  type LineInput,
  type LogStream,
  type OffsetCursor,
  type OpenOptions,
  type PushOptions,
  type StoredLine,
  type StreamCursor,
  type StreamInfo,
  type StreamMemoryUsage,
  type TextState,
} from '../stream/log-stream.ts';
import { rowsOf, type SnapshotRows } from '../stream/snapshot-rows.ts';
import { truncateOut } from '../stream/line-codec.ts';
import { fileLine } from './file-layout.ts';
import type { ScribeFiles } from './scribe-files.ts';

/** Bytes --console may hold for a slow terminal; past it lines are counted, not printed, and the count is printed. */
const CONSOLE_BUFFER_BYTES = 4 * 1024 * 1024;
/** How long a shutdown waits for the console to take what it was sent (best effort: a stuck terminal does not hold the stop). */
const CONSOLE_DRAIN_MS = 2000;

export interface ScribeTeeOptions {
  files?: ScribeFiles;
  /** Longest `out` the backend keeps (the file gets the same, cut the same way). */
  maxLineBytes: number;
  /** --console: each stored line is also written here (stdout: scribe/console-output.ts). */
  console?: Writable;
  /** Told once when the console fails; the console is off from then on. */
  onConsoleError?: (err: NodeJS.ErrnoException) => void;
}

export class ScribeTee implements LogStream {
  readonly memoryUsage?: () => StreamMemoryUsage;
  readonly keepsWholePush?: boolean;
  private consoleSkipped = 0;

  /** False once the console failed (its reader went: EPIPE): the lines still go to the stream and the files. */
  private consoleUp = true;

  constructor(
    private readonly inner: LogStream,
    private readonly options: ScribeTeeOptions,
  ) {
    if (inner.memoryUsage !== undefined) this.memoryUsage = () => inner.memoryUsage!();
    this.keepsWholePush = inner.keepsWholePush;
    // A console whose reader is gone must not take the server down with an unhandled 'error'.
    options.console?.on('error', (err: NodeJS.ErrnoException) => {
      if (this.consoleUp) options.onConsoleError?.(err);
      this.consoleUp = false;
    });
  }

  async push(name: string, lines: LineInput[], options?: PushOptions): Promise<number> {
    const text = lines.map((line) => fileLine(truncateOut(line.out, this.options.maxLineBytes)));
    const reservation = this.options.files?.file(name).reserve(text);
    let seq: number;
    try {
      seq = await this.inner.push(name, lines, options);
    } catch (err) {
      reservation?.cancel();
      throw err;
    }
    if (this.options.console !== undefined && this.consoleUp) this.echo(this.options.console, text);
    if (reservation !== undefined) await reservation.commit();
    return seq;
  }

  open(name: string, options?: OpenOptions): Promise<void> {
    return this.inner.open(name, options);
  }

  /** Closes the stream, then writes what its file still has queued and closes the file. */
  async close(name: string): Promise<boolean> {
    const closed = await this.inner.close(name);
    await this.options.files?.flush(name);
    return closed;
  }

  exists(name: string): Promise<boolean> {
    return this.inner.exists(name);
  }

  async textState(name: string): Promise<TextState | null> {
    return (await this.inner.textState?.(name)) ?? null;
  }

  cursor(name: string, start: CursorStart): Promise<StreamCursor | null> {
    return this.inner.cursor(name, start);
  }

  cursorAtOffset(name: string, offset: number): Promise<OffsetCursor | null> {
    return openAtOffset(this.inner, name, offset);
  }

  snapshotRows(name: string): AsyncIterable<SnapshotRows> {
    return this.inner.snapshotRows?.(name) ?? rowsOf(this.inner.lines(name));
  }

  lines(name: string): AsyncIterable<StoredLine> {
    return this.inner.lines(name);
  }

  info(prefix: string): Promise<Map<string, StreamInfo>> {
    return this.inner.info(prefix);
  }

  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix);
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  /** Ends the backend, then writes everything queued and closes every file; the console gets a moment to catch up. */
  async shutdown(): Promise<void> {
    await this.inner.shutdown();
    await this.options.files?.close();
    const out = this.options.console;
    if (out !== undefined && this.consoleUp && out.writableLength > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => out.once('drain', resolve)),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, CONSOLE_DRAIN_MS);
        }),
      ]);
      clearTimeout(timer);
    }
  }

  /**
   * --console is best effort: lines go through a non-blocking Writable over
   * fd 1 (scribe/console-output.ts) and, when its reader falls
   * CONSOLE_BUFFER_BYTES behind, are counted instead of queued.
   */
  private echo(out: Writable, text: Buffer[]): void {
    if (out.writableLength > CONSOLE_BUFFER_BYTES) {
      this.consoleSkipped += text.length;
      return;
    }
    if (this.consoleSkipped > 0) {
      out.write(`[log-service scribe: ${this.consoleSkipped} lines not shown: the console was too slow]\n`);
      this.consoleSkipped = 0;
    }
    for (const line of text) out.write(line);
  }
}
