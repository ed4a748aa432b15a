// One file followed for every client that tails it (docs/TAILSRV.md §5): one
// descriptor, one fs.watch (inotify on Linux) and a small cache of the latest
// reads, shared by all its clients, so 100 clients at the same offset cost one
// read, not 100, and a client holds a view of a shared buffer, not a copy.
// An idle file costs a watch and nothing else: no timer, no polling.
//
// What a change can mean, decided by fstat after each event:
//  * the size grew: clients read on;
//  * the size shrank: the file was truncated (`truncations` counts it);
//  * no link left (deleted: inotify reports IN_ATTRIB while we hold the
//    descriptor, IN_DELETE_SELF only after we close it), or, after a rename
//    event, the path no longer names our inode (moved, or replaced by
//    another file): the file is gone.
// A gone file is kept readable up to its last size, so clients get every
// byte before they are closed. With `linger`, it is followed on through the
// descriptor instead (a writer that still has it open keeps appending), and
// the owner is told so that new clients open whatever the path names next.
import { watch, type FSWatcher, type Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

/** Bytes per read: what one client holds in flight besides its socket buffers. */
const READ_CHUNK_BYTES = 64 * 1024;
/** Recent reads kept for the other clients at the same offsets (at most this × READ_CHUNK_BYTES per file). */
const CACHED_READS = 8;
/**
 * Reads land in a reused scratch buffer and are copied out at their real
 * length: a read at the live edge usually finds a few hundred bytes (or none),
 * and a fresh 64 KiB buffer per read would be garbage at the rate of appends.
 */
const scratchPool: Buffer[] = [];
const SCRATCH_POOL_SIZE = 8;

export type FileState = 'waiting' | 'open' | 'gone' | 'closed';

export interface FileSubscriber {
  /** The file appeared, grew, shrank or is gone: look at its state. */
  changed(): void;
}

export interface WatchOptions {
  /** Keep following a deleted or moved file through its descriptor instead of ending its clients. */
  linger: boolean;
  /** Called once when the path stops naming this file (deleted, moved, replaced). */
  onGone?: () => void;
}

interface CachedRead {
  start: number;
  /** End of what the read covers; lowered when it returned fewer bytes. */
  end: number;
  data: Promise<Buffer>;
}

const EMPTY = Buffer.alloc(0);

export class WatchedFile {
  state: FileState = 'waiting';
  /** Bytes readable now (the last size seen; frozen once the file is gone). */
  size = 0;
  /** How many times the file shrank: a client that saw fewer re-checks its offset. */
  truncations = 0;
  private handle: FileHandle | undefined;
  private identity: { dev: number; ino: number } | undefined;
  private watcher: FSWatcher | undefined;
  private directoryWatcher: FSWatcher | undefined;
  private readonly subscribers = new Set<FileSubscriber>();
  private reads: CachedRead[] = [];
  private checking = false;
  private checkAgain = false;
  private renamed = false;
  private detached = false;
  private opening = false;
  private openAgain = false;

  private constructor(
    readonly path: string,
    private readonly options: WatchOptions,
  ) {}

  /** A file that exists now; rejects when it cannot be opened or is not a regular file. */
  static async open(path: string, options: WatchOptions): Promise<WatchedFile> {
    const file = new WatchedFile(path, options);
    await file.openNow();
    return file;
  }

  /** A file that may not exist yet: waits (watching its directory) until it appears. */
  static awaiting(path: string, options: WatchOptions): WatchedFile {
    const file = new WatchedFile(path, options);
    const name = basename(path);
    file.directoryWatcher = watch(dirname(path), (_event, changed) => {
      if (changed === null || changed === name) file.tryOpen();
    });
    file.directoryWatcher.on('error', () => file.tryOpen());
    // After the watch starts: a file created in between is not missed.
    file.tryOpen();
    return file;
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  subscribe(subscriber: FileSubscriber): void {
    this.subscribers.add(subscriber);
  }

  unsubscribe(subscriber: FileSubscriber): void {
    this.subscribers.delete(subscriber);
  }

  /**
   * Up to READ_CHUNK_BYTES from `position`: what the file holds there now, empty at its end.
   * Reads are not bounded by `size`: an append is read as soon as its event arrives, without
   * waiting for the fstat. Clients at the same offset share one read (and its buffer: do not modify it).
   */
  async read(position: number): Promise<Buffer> {
    let read = this.reads.find((r) => r.start <= position && position < r.end);
    if (read === undefined) {
      if (this.handle === undefined) return EMPTY;
      read = this.readAt(position, READ_CHUNK_BYTES);
    }
    const data = await read.data;
    const from = Math.min(position - read.start, data.length);
    // A gone file ends at the size it had when it went (a writer that still holds it may append on).
    const end = this.state === 'gone' ? Math.max(from, Math.min(data.length, this.size - read.start)) : data.length;
    return data.subarray(from, end);
  }

  close(): void {
    this.state = 'closed';
    this.watcher?.close();
    this.directoryWatcher?.close();
    this.reads = [];
    const handle = this.handle;
    this.handle = undefined;
    void handle?.close().catch(() => {});
  }

  /** The file's size now (a fresh fstat), for starts relative to the end. */
  async currentSize(): Promise<number> {
    if (this.handle === undefined) return this.size;
    try {
      return (await this.handle.stat()).size;
    } catch {
      return this.size;
    }
  }

  private readAt(start: number, length: number): CachedRead {
    const handle = this.handle!;
    const scratch = scratchPool.pop() ?? Buffer.allocUnsafeSlow(READ_CHUNK_BYTES);
    const data = handle
      .read(scratch, 0, length, start)
      .then(({ bytesRead }) => {
        // Shorter than asked (the end of the file): the entry covers only what it holds.
        entry.end = start + bytesRead;
        if (bytesRead === 0) return EMPTY;
        const out = Buffer.allocUnsafe(bytesRead);
        scratch.copy(out, 0, 0, bytesRead);
        return out;
      })
      .finally(() => {
        if (scratchPool.length < SCRATCH_POOL_SIZE) scratchPool.push(scratch);
      });
    const entry: CachedRead = { start, end: start + length, data };
    entry.data.catch(() => {
      this.reads = this.reads.filter((r) => r !== entry);
    });
    this.reads.push(entry);
    if (this.reads.length > CACHED_READS) this.reads.shift();
    return entry;
  }

  private async openNow(): Promise<void> {
    const handle = await open(this.path, 'r');
    let info: Stats;
    try {
      info = await handle.stat();
      if (!info.isFile()) throw new Error(`${this.path} is not a regular file`);
      this.watcher = watch(this.path, (event) => this.onEvent(event));
      this.watcher.on('error', () => this.onEvent('rename'));
      // Stat again after the watch started: an append in between is not missed.
      info = await handle.stat();
    } catch (err) {
      this.watcher?.close();
      this.watcher = undefined;
      await handle.close().catch(() => {});
      throw err;
    }
    if (this.state === 'closed') {
      this.watcher.close();
      await handle.close().catch(() => {});
      return;
    }
    this.handle = handle;
    this.identity = { dev: info.dev, ino: info.ino };
    this.size = info.size;
    this.state = 'open';
    this.directoryWatcher?.close();
    this.directoryWatcher = undefined;
  }

  private tryOpen(): void {
    if (this.state !== 'waiting') return;
    if (this.opening) {
      this.openAgain = true;
      return;
    }
    this.opening = true;
    this.openAgain = false;
    this.openNow().then(
      () => {
        this.opening = false;
        this.notify();
      },
      () => {
        this.opening = false;
        // Not there yet (or not a regular file): the next directory event tries again.
        if (this.openAgain) this.tryOpen();
      },
    );
  }

  private onEvent(event: string): void {
    if (this.state !== 'open') return;
    if (event === 'rename') this.renamed = true;
    // An append: the clients read on at once; the fstat below runs beside them (truncation, deletion).
    else this.notify();
    if (this.checking) {
      this.checkAgain = true;
      return;
    }
    void this.check();
  }

  private async check(): Promise<void> {
    this.checking = true;
    try {
      do {
        this.checkAgain = false;
        const renamed = this.renamed;
        this.renamed = false;
        const handle = this.handle;
        if (handle === undefined) return;
        const info = await handle.stat();
        if (this.state !== 'open') return;
        const gone = !this.detached && (info.nlink === 0 || (renamed && !(await this.stillAtPath())));
        if (info.size < this.size) {
          this.truncations++;
          this.reads = [];
        }
        const shrank = info.size < this.size;
        this.size = info.size;
        if (gone) {
          this.detached = true;
          if (!this.options.linger) {
            this.state = 'gone';
            this.watcher?.close();
          }
          this.options.onGone?.();
          this.notify();
        } else if (shrank) {
          this.notify();
        }
      } while (this.checkAgain && this.state === 'open');
    } catch {
      // The descriptor was closed under the check (the server stops): nothing to report.
    } finally {
      this.checking = false;
    }
  }

  /** Whether the path still names the inode we follow (always true while waiting for it to appear). */
  async stillAtPath(): Promise<boolean> {
    if (this.identity === undefined) return true;
    try {
      const info = await stat(this.path);
      return info.ino === this.identity?.ino && info.dev === this.identity?.dev;
    } catch {
      return false;
    }
  }

  private notify(): void {
    for (const subscriber of [...this.subscribers]) subscriber.changed();
  }
}
