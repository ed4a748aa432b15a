// The lines a push has read from its source and not yet sent, in order: the
// producer writes into it as fast as it likes, the sender takes batches out.
// The head lives in memory, up to `memoryBytes` of NDJSON; past that the
// lines go to a temporary file, and come back into memory as the sender gets
// to them. So a producer is never held up while the service is unreachable
// (the CLI's stdin keeps flowing), and memory stays bounded whatever the
// outage lasts.
//
// The file is made in `dir` (default: the system's temporary directory) and
// unlinked as soon as it is open, so it has no name: its space goes back to
// the system when the push ends or the process dies, even by kill -9. Where
// an open file cannot be unlinked (Windows), it is removed when the push ends.
import { mkdtemp, open, rm, rmdir, unlink, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SpoolLimits {
  /** Bytes of encoded lines kept in memory before the rest goes to the temporary file. */
  memoryBytes: number;
  /** Bytes held in all, memory and file; past it `add` refuses the line. */
  maxBytes: number;
  /** Where the temporary file is made; default os.tmpdir(). */
  dir: string | undefined;
}

export const DEFAULT_SPOOL_LIMITS: SpoolLimits = { memoryBytes: 16 * 1024 * 1024, maxBytes: 1024 * 1024 * 1024, dir: undefined };

export interface SpoolBatchLimits {
  maxLines: number;
  maxBytes: number;
  intervalMs: number;
}

export interface SpoolBatch {
  /** NDJSON, one line per record, newline-terminated. */
  body: Buffer;
  lines: number;
}

interface SpillFile {
  handle: FileHandle;
  /** Removed at close when it could not be unlinked at once. */
  path: string | undefined;
  dir: string | undefined;
  /** Bytes written (and readable) so far. */
  writtenTo: number;
  /** Bytes read back so far. */
  readTo: number;
  /** The start of a record cut by the last read. */
  carry: Buffer;
}

const READ_CHUNK = 1024 * 1024;
const WRITE_CHUNK = 1024 * 1024;

export class PushSpool {
  /** Records in memory, oldest first, from `headIndex` on; their byte sizes (with the newline) alongside. */
  private head: string[] = [];
  private headSizes: number[] = [];
  private headIndex = 0;
  private headBytes = 0;
  /** Records on their way to the file, and records in it not yet read back. */
  private fileLines = 0;
  private fileBytes = 0;
  private writeQueue: string[] = [];
  private writeSizes: number[] = [];
  private writing = false;
  private file: SpillFile | undefined;
  /** Set when the file could not be made or written: from then on only memory is used. */
  private fileFailed: unknown;
  private ended = false;
  private closed = false;
  /** When the oldest line still waiting arrived (approximately: see nextBatch). */
  private waitingSince: number | undefined;
  private waiters: (() => void)[] = [];
  /** Lines lost because the file could not be written. */
  lost = 0;
  /** The bytes ever held at once (for tests and the curious). */
  peakBytes = 0;
  /** True once any line went to the temporary file. */
  spilled = false;

  constructor(private readonly limits: SpoolLimits = DEFAULT_SPOOL_LIMITS) {}

  /** Lines held (memory and file). */
  get pendingLines(): number {
    return this.head.length - this.headIndex + this.fileLines;
  }

  get pendingBytes(): number {
    return this.headBytes + this.fileBytes;
  }

  /** The most this spool holds: the file's cap, or memory's when the file failed. */
  get capacity(): number {
    return this.fileFailed === undefined ? Math.max(this.limits.maxBytes, this.limits.memoryBytes) : this.limits.memoryBytes;
  }

  /**
   * Appends one NDJSON record (no newline in it). False when the spool is full:
   * the caller waits for room (`changed()`) or gives the line up.
   */
  add(record: string): boolean {
    if (this.closed || this.ended) throw new Error('push spool: add after end');
    const size = Buffer.byteLength(record, 'utf8') + 1;
    // One record always fits into an empty spool, whatever its size.
    if (this.pendingLines > 0 && this.pendingBytes + size > this.capacity) return false;
    if (this.fileLines === 0 && (this.headBytes + size <= this.limits.memoryBytes || this.fileFailed !== undefined || this.pendingLines === 0)) {
      this.head.push(record);
      this.headSizes.push(size);
      this.headBytes += size;
    } else {
      this.writeQueue.push(record);
      this.writeSizes.push(size);
      this.fileLines++;
      this.fileBytes += size;
      this.spilled = true;
      this.startWriting();
    }
    this.peakBytes = Math.max(this.peakBytes, this.pendingBytes);
    this.waitingSince ??= Date.now();
    this.notify();
    return true;
  }

  /** No more lines will come: what is held still goes out. */
  end(): void {
    this.ended = true;
    this.notify();
  }

  /** Resolves at the next change: a line added or taken, the end, a write done. */
  changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * The next batch, when it is due: `maxLines` or `maxBytes` are waiting, the
   * oldest waiting line has waited `intervalMs`, or the input ended. Undefined
   * once the input ended and everything was taken.
   */
  async nextBatch(limits: SpoolBatchLimits): Promise<SpoolBatch | undefined> {
    for (;;) {
      if (this.closed) return undefined;
      const lines = this.pendingLines;
      if (lines === 0) {
        if (this.ended) return undefined;
        await this.changed();
        continue;
      }
      const waited = Date.now() - (this.waitingSince ?? Date.now());
      if (!this.ended && lines < limits.maxLines && this.pendingBytes < limits.maxBytes && waited < limits.intervalMs) {
        await this.changedWithin(limits.intervalMs - waited);
        continue;
      }
      await this.readBack(limits);
      if (this.closed) return undefined;
      if (this.head.length === this.headIndex) continue; // the file part was lost to a write error
      const records: string[] = [];
      let bytes = 0;
      while (this.headIndex < this.head.length && records.length < limits.maxLines) {
        const size = this.headSizes[this.headIndex]!;
        if (records.length > 0 && bytes + size > limits.maxBytes) break;
        records.push(this.head[this.headIndex]!);
        bytes += size;
        this.headIndex++;
      }
      this.headBytes -= bytes;
      this.compactHead();
      // What is still held waited through this batch's send at least: it goes out next, at once.
      if (this.pendingLines === 0) this.waitingSince = undefined;
      this.notify();
      return { body: Buffer.from(`${records.join('\n')}\n`, 'utf8'), lines: records.length };
    }
  }

  /** Releases the file and wakes every waiter; what is held is dropped. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.head = [];
    this.headSizes = [];
    this.headIndex = 0;
    this.headBytes = 0;
    this.writeQueue = [];
    this.writeSizes = [];
    this.notify();
    await this.dropFile();
  }

  private notify(): void {
    if (this.waiters.length === 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  private async changedWithin(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.changed(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.max(0, ms));
      }),
    ]);
    clearTimeout(timer);
  }

  private compactHead(): void {
    if (this.headIndex === this.head.length) {
      this.head = [];
      this.headSizes = [];
      this.headIndex = 0;
    } else if (this.headIndex > 4096 && this.headIndex * 2 > this.head.length) {
      this.head = this.head.slice(this.headIndex);
      this.headSizes = this.headSizes.slice(this.headIndex);
      this.headIndex = 0;
    }
  }

  /** Brings records back from the file until memory holds a whole batch, or the file part is empty. */
  private async readBack(limits: SpoolBatchLimits): Promise<void> {
    while (this.fileLines > 0 && !this.closed && this.head.length - this.headIndex < limits.maxLines && this.headBytes < limits.maxBytes) {
      const file = this.file;
      if (file === undefined || file.readTo >= file.writtenTo) {
        // The next records are still being written.
        await this.changed();
        continue;
      }
      const size = Math.min(READ_CHUNK, file.writtenTo - file.readTo);
      const chunk = Buffer.allocUnsafe(size);
      let read: number;
      try {
        ({ bytesRead: read } = await file.handle.read(chunk, 0, size, file.readTo));
      } catch (err) {
        this.abandonFile(err);
        return;
      }
      if (this.closed || file !== this.file) return;
      if (read === 0) {
        this.abandonFile(new Error('push spool: the temporary file is shorter than what was written to it'));
        return;
      }
      file.readTo += read;
      const data = file.carry.length === 0 ? chunk.subarray(0, read) : Buffer.concat([file.carry, chunk.subarray(0, read)]);
      let start = 0;
      // A newline byte never occurs inside a UTF-8 sequence, nor inside a JSON record: cut there.
      for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10, start)) {
        const size = nl - start + 1;
        this.head.push(data.toString('utf8', start, nl));
        this.headSizes.push(size);
        this.headBytes += size;
        this.fileLines--;
        this.fileBytes -= size;
        start = nl + 1;
      }
      file.carry = Buffer.from(data.subarray(start));
    }
    if (this.fileLines === 0 && this.file !== undefined && !this.writing) {
      // Everything came back: the next spill starts a new, empty file.
      await this.dropFile();
    }
  }

  private startWriting(): void {
    if (this.writing || this.fileFailed !== undefined) return;
    this.writing = true;
    void this.writeLoop();
  }

  private async writeLoop(): Promise<void> {
    try {
      while (this.writeQueue.length > 0 && !this.closed) {
        let bytes = 0;
        let count = 0;
        while (count < this.writeQueue.length && bytes < WRITE_CHUNK) bytes += this.writeSizes[count++]!;
        const records = this.writeQueue.splice(0, count);
        this.writeSizes.splice(0, count);
        const data = Buffer.from(`${records.join('\n')}\n`, 'utf8');
        try {
          this.file ??= await openSpillFile(this.limits.dir ?? tmpdir());
          const file = this.file;
          for (let done = 0; done < data.length;) {
            const { bytesWritten } = await file.handle.write(data, done, data.length - done, file.writtenTo + done);
            done += bytesWritten;
          }
          file.writtenTo += data.length;
        } catch (err) {
          if (this.closed) return;
          // These records, and any queued after them, cannot be kept: count them, and keep to memory from now on.
          this.fileFailed = err;
          const rest = this.writeQueue.splice(0).length;
          const restBytes = this.writeSizes.splice(0).reduce((sum, size) => sum + size, 0);
          const gone = records.length + rest;
          this.lost += gone;
          this.fileLines -= gone;
          this.fileBytes -= data.length + restBytes;
        }
        this.notify();
      }
    } finally {
      this.writing = false;
      // Closed while the file was being made: it was made after close() let go of the last one.
      if (this.closed) await this.dropFile();
      this.notify();
    }
  }

  /** A read failed: what is still in the file is lost. */
  private abandonFile(err: unknown): void {
    this.fileFailed = err;
    this.lost += this.fileLines;
    this.fileLines = 0;
    this.fileBytes = 0;
    this.writeQueue = [];
    this.writeSizes = [];
    void this.dropFile();
  }

  private async dropFile(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    if (file === undefined) return;
    await file.handle.close().catch(() => undefined);
    if (file.path !== undefined) await unlink(file.path).catch(() => undefined);
    if (file.dir !== undefined) await rm(file.dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** A new temporary file in `dir`, unlinked at once where the system allows it (its directory too). */
async function openSpillFile(dir: string): Promise<SpillFile> {
  const folder = await mkdtemp(join(dir, 'log-service-push-'));
  const path = join(folder, 'spool.ndjson');
  let handle: FileHandle;
  try {
    handle = await open(path, 'w+', 0o600);
  } catch (err) {
    await rm(folder, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  const file: SpillFile = { handle, path, dir: folder, writtenTo: 0, readTo: 0, carry: Buffer.alloc(0) };
  try {
    await unlink(path);
    file.path = undefined;
    await rmdir(folder);
    file.dir = undefined;
  } catch {
    // Windows: an open file cannot be unlinked; dropFile removes it.
  }
  return file;
}
