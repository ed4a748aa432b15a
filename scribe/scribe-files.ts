// Every scribe file of this instance (docs/SCRIBE.md §3): one RotatingFile per
// stream, created on its first line. Bounds: at most `maxOpenFiles` handles are
// kept open (the least recently used idle one is closed before another opens), and
// a file idle for `idleCloseMs` has its handle closed and is forgotten, so
// thousands of streams cost neither descriptors nor memory once they go quiet.
import { checkFileSegments, fileBase } from './file-layout.ts';
import { RotatingFile } from './rotating-file.ts';

export interface ScribeFilesOptions {
  dir: string;
  /** Rotation size in bytes; -1 = never. */
  maxBytes: number;
  /** Bytes that may wait for the disk per file (default 8 MiB). */
  maxQueuedBytes?: number;
  /** File handles kept open at once (default 256). */
  maxOpenFiles?: number;
  /** A file idle this long is closed and forgotten (default 5 s). */
  idleCloseMs?: number;
  now?: () => Date;
}

const DEFAULT_MAX_QUEUED_BYTES = 8 * 1024 * 1024;
const DEFAULT_MAX_OPEN_FILES = 256;
const DEFAULT_IDLE_CLOSE_MS = 5000;

export class ScribeFiles {
  private readonly files = new Map<string, RotatingFile>();
  private readonly sweep: NodeJS.Timeout;
  private readonly idleCloseMs: number;

  constructor(private readonly options: ScribeFilesOptions) {
    this.idleCloseMs = options.idleCloseMs ?? DEFAULT_IDLE_CLOSE_MS;
    // unref: the sweep never keeps a stopping process alive.
    this.sweep = setInterval(() => void this.closeIdle(), Math.max(100, this.idleCloseMs / 2)).unref();
  }

  /** The file of stream `name` (`<account>/<key>`, key validated). Throws LOGSVC_INVALID_KEY for a key no file can have. */
  file(name: string): RotatingFile {
    const existing = this.files.get(name);
    if (existing !== undefined) return existing;
    checkFileSegments(name.slice(name.indexOf('/') + 1));
    const file = new RotatingFile(fileBase(this.options.dir, name), {
      maxBytes: this.options.maxBytes,
      maxQueuedBytes: this.options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES,
      root: this.options.dir,
      now: this.options.now,
      beforeOpen: () => this.makeRoomForHandle(),
    });
    this.files.set(name, file);
    return file;
  }

  /** Writes what stream `name` has queued and closes its file (the stream was closed). */
  async flush(name: string): Promise<void> {
    const file = this.files.get(name);
    if (file === undefined) return;
    await file.flush();
    if (file.idle) this.files.delete(name);
  }

  /**
   * Writes everything queued and closes every file (shutdown); the idle sweep
   * stops. A file written after this (a request still in flight during the
   * grace period) is opened again, so nothing is refused; the server's last
   * shutdown step calls this again and closes it.
   */
  async close(): Promise<void> {
    clearInterval(this.sweep);
    const files = [...this.files.values()];
    this.files.clear();
    await Promise.all(files.map((file) => file.flush().catch(() => {})));
  }

  /**
   * Before a file opens its handle: when `maxOpenFiles` are open, the least
   * recently used idle ones are closed first (and waited for). Files that are
   * all busy writing may take the count past the cap until they finish.
   */
  private async makeRoomForHandle(): Promise<void> {
    const max = this.options.maxOpenFiles ?? DEFAULT_MAX_OPEN_FILES;
    const open = [...this.files.values()].filter((f) => f.isOpen);
    if (open.length < max) return;
    const idle = open.filter((f) => f.idle).sort((a, b) => a.lastUsed - b.lastUsed);
    await Promise.all(idle.slice(0, open.length - max + 1).map((file) => file.closeIfIdle().catch(() => {})));
  }

  private async closeIdle(): Promise<void> {
    const cutoff = Date.now() - this.idleCloseMs;
    for (const [name, file] of this.files) {
      if (!file.idle || file.lastUsed > cutoff) continue;
      this.files.delete(name);
      await file.closeIfIdle().catch(() => {});
    }
  }
}
