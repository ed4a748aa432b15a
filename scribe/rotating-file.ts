// One scribe file with size rotation (docs/SCRIBE.md §3). Lines are queued in
// the order their writers reserved room, and one write loop per file appends
// them, so order is kept under concurrent callers without any lock on the
// stream itself. The file system is reached only through fs/promises (libuv's
// thread pool): a slow or full disk never blocks the event loop.
//
// Bounds: at most `maxQueuedBytes` wait per file (a reservation past it is
// refused at once, before anything is stored, with a retryable error); one
// write is at most WRITE_BATCH_BYTES; one file handle per file, closed by
// ScribeFiles when the file is idle.
import type { FileHandle } from 'node:fs/promises';
import { link, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { dirname, relative } from 'node:path';
import { isServiceError, ServiceError } from '../foundation/errors.ts';
import { rotatedPath, rotationStamp } from './file-layout.ts';

/** Bytes appended by one write call at most (the lines of one batch are joined into one buffer). */
const WRITE_BATCH_BYTES = 1024 * 1024;
/** Rotations within one second that still get their own name (`_1` … `_999`). */
const MAX_NAMES_PER_SECOND = 1000;

export interface RotatingFileOptions {
  /** Rotate before a write that would make the file larger than this; -1 = never. */
  maxBytes: number;
  /** Bytes that may wait for the disk; a reservation past it is refused. */
  maxQueuedBytes: number;
  /** For error messages: paths are shown relative to this directory. */
  root: string;
  now?: () => Date;
  /** Called before the file opens a handle (ScribeFiles closes idle ones to stay under its cap). */
  beforeOpen?: () => Promise<void>;
}

interface Entry {
  lines: Buffer[];
  bytes: number;
  state: 'reserved' | 'committed' | 'cancelled';
  resolve(): void;
  reject(err: unknown): void;
}

/** Room reserved in a file's queue, in order: commit once the lines are stored, or cancel. */
export interface Reservation {
  /** Resolves once the lines are in the file; rejects with the write's error. */
  commit(): Promise<void>;
  cancel(): void;
}

export class RotatingFile {
  private handle: FileHandle | undefined;
  /** Bytes in the live file, as far as this writer knows (stat at open, then its own writes). */
  private size = 0;
  private readonly queue: Entry[] = [];
  private queuedBytes = 0;
  private pumping = false;
  private idleWaiters: (() => void)[] = [];
  /** When the file last did anything (for ScribeFiles' idle sweep). */
  lastUsed = Date.now();

  constructor(
    /** The live file's path without ".log". */
    readonly base: string,
    private readonly options: RotatingFileOptions,
  ) {}

  get path(): string {
    return `${this.base}.log`;
  }

  /** Nothing queued, nothing being written. */
  get idle(): boolean {
    return this.queue.length === 0 && !this.pumping;
  }

  get isOpen(): boolean {
    return this.handle !== undefined;
  }

  /**
   * Takes a place in the queue for `lines` (each already ending in one
   * newline). Refused with LOGSVC_BACKEND_UNAVAILABLE (retry later) when the
   * queue is full; an empty queue takes any size, so one big push still goes.
   */
  reserve(lines: Buffer[]): Reservation {
    let bytes = 0;
    for (const line of lines) bytes += line.length;
    if (this.queuedBytes > 0 && this.queuedBytes + bytes > this.options.maxQueuedBytes) {
      throw new ServiceError(
        'LOGSVC_BACKEND_UNAVAILABLE',
        `the scribe file ${this.shown()} has ${this.queuedBytes} bytes waiting for the disk (at most ${this.options.maxQueuedBytes}); retry later`,
      );
    }
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const entry: Entry = { lines, bytes, state: 'reserved', resolve, reject };
    this.queue.push(entry);
    this.queuedBytes += bytes;
    this.lastUsed = Date.now();
    return {
      commit: () => {
        if (entry.state === 'reserved') {
          entry.state = 'committed';
          this.pump();
        }
        return done;
      },
      cancel: () => {
        if (entry.state !== 'reserved') return;
        entry.state = 'cancelled';
        entry.resolve();
        this.pump();
      },
    };
  }

  /** Resolves when nothing is queued or being written. */
  drained(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Writes what is queued, then syncs and closes the handle (a stream closed, a shutdown, an idle file). */
  async flush(): Promise<void> {
    await this.drained();
    await this.closeHandle(true);
  }

  /** Closes the handle if the file is idle; it is opened again on the next write. */
  async closeIfIdle(): Promise<void> {
    if (this.idle) await this.closeHandle(false);
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    void this.run().finally(() => {
      this.pumping = false;
      this.lastUsed = Date.now();
      // An entry committed while the last batch was being written.
      if (this.queue[0] !== undefined && this.queue[0].state !== 'reserved') this.pump();
      else if (this.idle) for (const wake of this.idleWaiters.splice(0)) wake();
    });
  }

  private async run(): Promise<void> {
    for (;;) {
      const batch = this.takeReady();
      if (batch.length === 0) return;
      const bytes = batch.reduce((sum, e) => sum + e.bytes, 0);
      try {
        await this.write(batch);
        for (const entry of batch) entry.resolve();
      } catch (err) {
        const error = this.failure(err);
        for (const entry of batch) entry.reject(error);
      } finally {
        this.queuedBytes -= bytes;
      }
    }
  }

  /** The committed entries at the head of the queue (up to a batch's size); cancelled ones are dropped. */
  private takeReady(): Entry[] {
    const batch: Entry[] = [];
    let bytes = 0;
    while (this.queue.length > 0 && bytes < WRITE_BATCH_BYTES) {
      const head = this.queue[0]!;
      if (head.state === 'reserved') break;
      this.queue.shift();
      if (head.state === 'cancelled') {
        this.queuedBytes -= head.bytes;
        continue;
      }
      batch.push(head);
      bytes += head.bytes;
    }
    return batch;
  }

  /** Appends the batch's lines, rotating before any line that would take the file past its limit. */
  private async write(batch: Entry[]): Promise<void> {
    await this.ensureOpen();
    const limit = this.options.maxBytes;
    let parts: Buffer[] = [];
    let pending = 0;
    for (const entry of batch) {
      for (const line of entry.lines) {
        // A line longer than the limit gets a file of its own rather than being cut.
        if (limit >= 0 && this.size + pending > 0 && this.size + pending + line.length > limit) {
          await this.append(parts, pending);
          parts = [];
          pending = 0;
          await this.rotate();
        }
        parts.push(line);
        pending += line.length;
      }
    }
    await this.append(parts, pending);
  }

  private async append(parts: Buffer[], bytes: number): Promise<void> {
    if (bytes === 0) return;
    const handle = this.handle!;
    const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts, bytes);
    let written = 0;
    try {
      while (written < data.length) {
        const { bytesWritten } = await handle.write(data, written, data.length - written);
        written += bytesWritten;
      }
    } catch (err) {
      // A full disk may have taken part of the batch: cut the file back so it
      // holds whole lines only and the next write starts on a line of its own.
      if (written > 0) await handle.truncate(this.size).catch(() => {});
      await this.closeHandle(false);
      throw err;
    }
    this.size += bytes;
  }

  private async ensureOpen(): Promise<void> {
    if (this.handle !== undefined) return;
    await this.options.beforeOpen?.();
    await mkdir(dirname(this.base), { recursive: true });
    const handle = await open(this.path, 'a', 0o644);
    try {
      this.size = (await handle.stat()).size;
    } catch (err) {
      await handle.close().catch(() => {});
      throw err;
    }
    this.handle = handle;
  }

  /** Moves the live file aside under a name no other file has, and starts a new one. */
  private async rotate(): Promise<void> {
    await this.closeHandle(false);
    const stamp = rotationStamp((this.options.now ?? (() => new Date()))());
    for (let n = 0; n < MAX_NAMES_PER_SECOND; n++) {
      const target = rotatedPath(this.base, stamp, n);
      if (await moveWithoutOverwrite(this.path, target)) {
        await this.ensureOpen();
        return;
      }
    }
    throw new Error(`more than ${MAX_NAMES_PER_SECOND} rotations of ${this.shown()} within one second`);
  }

  private async closeHandle(sync: boolean): Promise<void> {
    const handle = this.handle;
    if (handle === undefined) return;
    this.handle = undefined;
    try {
      if (sync) await handle.datasync();
    } finally {
      await handle.close().catch(() => {});
    }
  }

  private shown(): string {
    return relative(this.options.root, this.path) || this.path;
  }

  /** The catalogue error a caller gets for a failed write: room (507) or retry later (503). */
  private failure(err: unknown): ServiceError {
    if (isServiceError(err)) return err;
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const what = `the line was not written to the scribe file ${this.shown()}`;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      return new ServiceError('LOGSVC_STORAGE_FULL', `${what}: no room left on its disk (${code})`, { cause: err });
    }
    return new ServiceError('LOGSVC_BACKEND_UNAVAILABLE', `${what} (${code}): ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Renames `from` to `to` unless `to` exists: link() fails with EEXIST instead
 * of replacing, which rename() would do. File systems without hard links fall
 * back to a check and rename (the only writer of these names is this process).
 * False when `to` is taken.
 */
async function moveWithoutOverwrite(from: string, to: string): Promise<boolean> {
  try {
    await link(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    // The live file is gone (removed by hand): nothing to move, a new one starts.
    if (code === 'ENOENT' && !(await exists(from))) return true;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
    if (await exists(to)) return false;
    await rename(from, to);
    return true;
  }
  await unlink(from);
  return true;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
