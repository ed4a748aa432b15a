// LMDB BlobStore (docs/BACKENDS.md): a blob is a metadata record plus fixed-size
// chunks keyed [uploadId, index]. An upload writes chunks under a fresh
// uploadId that nothing points to, then one transaction points the metadata at
// them and drops the old chunks: readers see the old blob or the new one, never
// a mix. Uploads cut by a crash are listed in `pending` and swept at open; the
// file is locked to this process first (data-dir-lock.ts), so the sweep never
// touches a live process's upload.
// A full disk fails the write that hit it with LOGSVC_STORAGE_FULL (507) and
// nothing else: see lmdb-write-errors.ts.
import { createHash, randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { finished, Readable } from 'node:stream';
import { open, type Database, type RootDatabase } from 'lmdb';
import { ServiceError } from '../foundation/errors.ts';
import type { BlobListEntry, BlobMeta, BlobStore, ByteRange, PutOptions } from './blob-store.ts';
import { DataLock } from './data-dir-lock.ts';
import { HashingMeter } from './hashing-meter.ts';
import { describeWriteFailure, lmdbWrite, lmdbWriteSync } from './lmdb-write-errors.ts';

interface StoredMeta {
  uploadId: string;
  size: number;
  sha256: string;
  contentType: string;
  created: string;
  chunkSize: number;
}

type ChunkKey = [string, number];

const CHUNK_SIZE = 256 * 1024;
/** Chunk writes in flight per upload: enough to keep LMDB's batched commits busy, small enough to bound memory. */
const MAX_PENDING_WRITES = 16;
/** How often the chunks of failed uploads that could not be deleted at once (a full disk) are tried again. */
const LEFTOVER_RETRY_MS = 5000;

export class LmdbBlobStore implements BlobStore {
  readonly kind = 'lmdb';
  private readonly root: RootDatabase;
  private readonly meta: Database<StoredMeta, string>;
  private readonly chunks: Database<Buffer, ChunkKey>;
  private readonly pending: Database<string, string>;
  /** This process's claim on the file, taken before LMDB opens it. */
  private readonly lock: DataLock;
  /** The directory of the LMDB file: its filesystem's free space tells a full disk from a failing one. */
  private readonly dir: string;
  /** Failed uploads of this process whose chunks are still to be deleted (see discard). */
  private readonly leftovers = new Set<string>();
  private leftoverTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly uploadIds = new UploadIds();

  constructor(path: string) {
    this.dir = dirname(path);
    // Throws DataInUseError ("… in use by process N") before anything is opened or swept.
    this.lock = DataLock.acquire(path);
    try {
      this.root = this.openFile(path);
    } catch (err) {
      this.lock.release();
      throw err;
    }
    this.meta = this.root.openDB<StoredMeta, string>({ name: 'blob-meta' });
    this.chunks = this.root.openDB<Buffer, ChunkKey>({ name: 'blob-chunks', encoding: 'binary' });
    this.pending = this.root.openDB<string, string>({ name: 'blob-pending', encoding: 'string' });
    // We hold the lock: every pending upload was left by a process that is gone.
    this.sweepAbandonedUploads();
  }

  private openFile(path: string): RootDatabase {
    // separateFlushed: a write resolves once committed, and durability is awaited
    // once per upload (root.flushed) instead of once per chunk commit; the 204
    // still waits for the disk (see put). eventTurnBatching off: with it,
    // lmdb-js (3.5) starts each batch with a commit promise of its own that
    // nothing can handle, so a failed commit (a full disk) became an unhandled
    // rejection. Writes are still batched (queued while a commit runs), and
    // every write that must be atomic with another is in one transaction or
    // one conditional batch (putBytes).
    return open({ path, compression: false, separateFlushed: true, eventTurnBatching: false });
  }

  async put(name: string, body: Readable, options: PutOptions = {}): Promise<BlobMeta> {
    const uploadId = this.uploadIds.next();
    // A durable put records its upload synchronously (a committed, flushed transaction) before any chunk.
    // A non-durable one (the live archive's chunks, many a second) queues the record as the first
    // write of the upload instead: LMDB commits queued writes in order, so the record is never
    // later than a chunk, and the event loop does not wait for a disk sync per chunk.
    let recorded: Promise<unknown> | undefined;
    try {
      if (options.durable === false) {
        recorded = lmdbWrite(this.pending.put(uploadId, new Date().toISOString()));
        recorded.catch(() => undefined); // awaited below
      } else {
        lmdbWriteSync(() => this.pending.putSync(uploadId, new Date().toISOString()));
      }
    } catch (err) {
      throw await describeWriteFailure(err, this.dir);
    }
    const meter = new HashingMeter(options.maxBytes);
    const writes: Promise<unknown>[] = [];
    // The first failed chunk write: the upload stops at the next chunk instead of writing on into a full disk.
    let writeFailed: { err: unknown } | undefined;
    let index = 0;
    let committed = false;
    try {
      // Not pipeline(): it would destroy the request socket when the meter
      // refuses a too-large body, and the client would never see the 413.
      finished(body, (err) => {
        if (err) meter.destroy(err);
      });
      body.pipe(meter);
      for await (const chunk of chunked(meter, CHUNK_SIZE)) {
        if (writeFailed !== undefined) throw writeFailed.err;
        const write = lmdbWrite(this.chunks.put([uploadId, index++], chunk));
        // Awaited below; until then a failure must not count as unhandled (it would end the process).
        write.catch((err: unknown) => {
          writeFailed ??= { err };
        });
        writes.push(write);
        if (writes.length >= MAX_PENDING_WRITES) await writes.shift();
      }
      await recorded;
      await Promise.all(writes);
      const stored: StoredMeta = {
        uploadId,
        size: meter.bytes,
        sha256: meter.digest(),
        contentType: options.contentType ?? 'application/octet-stream',
        created: new Date().toISOString(),
        chunkSize: CHUNK_SIZE,
      };
      await lmdbWrite(
        this.root.transaction(() => {
          // Swept from under us (only another process sharing the file could): never point a blob at missing chunks.
          if (this.pending.get(uploadId) === undefined) throw new Error(`upload ${uploadId} of "${name}" lost its chunks before its commit`);
          const previous = this.meta.get(name);
          this.meta.put(name, stored);
          this.pending.remove(uploadId);
          if (previous) this.removeChunks(previous.uploadId);
        }),
      );
      committed = true;
      // Durable before the caller is told: the chunks and the commit that points at them.
      if (options.durable !== false) await lmdbWrite(this.root.flushed);
      return toBlobMeta(stored);
    } catch (err) {
      // After the commit the new blob is in place (the old chunks are gone): a
      // failed flush is reported, but its chunks must stay.
      if (committed) throw await describeWriteFailure(err, this.dir);
      body.unpipe(meter);
      meter.destroy();
      await Promise.allSettled(writes);
      await this.discard(uploadId);
      throw await describeWriteFailure(err, this.dir);
    }
  }

  /**
   * One commit writes the chunks and points the metadata at them: there is no
   * upload record to sweep after a crash and no stream to pipe. A failed
   * commit (a full disk) leaves nothing behind and the old blob in place.
   * `bytes` must not change until the returned promise settles: LMDB's write
   * thread may copy them from there (below).
   */
  async putBytes(name: string, bytes: Buffer, options: PutOptions = {}): Promise<BlobMeta> {
    if (options.maxBytes !== undefined && bytes.length > options.maxBytes) {
      throw new ServiceError('LOGSVC_BODY_TOO_LARGE', `the body is over the limit of ${options.maxBytes} bytes`);
    }
    const stored: StoredMeta = {
      uploadId: this.uploadIds.next(),
      size: bytes.length,
      sha256: options.checksum === false ? '' : createHash('sha256').update(bytes).digest('hex'),
      contentType: options.contentType ?? 'application/octet-stream',
      created: new Date().toISOString(),
      chunkSize: CHUNK_SIZE,
    };
    const putChunks = (): void => {
      for (let index = 0; index * CHUNK_SIZE < bytes.length; index++) {
        void this.chunks.put([stored.uploadId, index], bytes.subarray(index * CHUNK_SIZE, (index + 1) * CHUNK_SIZE));
      }
    };
    try {
      // A name not stored yet (every chunk of the live archive has its own, docs/ARCHIVE.md §2): the
      // chunks and the record go to LMDB's write thread as one write conditional on the name's
      // absence, which copies the bytes there. A transaction's callback would run on the event loop
      // and copy them there, 256 KiB at a time (BENCHMARKS.md, "ingest: chunks written off the event
      // loop, answers written together"). A name that exists (a replaced blob) takes the transaction,
      // which also drops the chunks of the blob it replaces.
      const fresh = await lmdbWrite(
        this.meta.ifNoExists(name, () => {
          putChunks();
          void this.meta.put(name, stored);
        }),
      );
      if (!fresh) {
        await lmdbWrite(
          this.root.transaction(() => {
            putChunks();
            const previous = this.meta.get(name);
            this.meta.put(name, stored);
            if (previous) this.removeChunks(previous.uploadId);
          }),
        );
      }
      if (options.durable !== false) await lmdbWrite(this.root.flushed);
    } catch (err) {
      throw await describeWriteFailure(err, this.dir);
    }
    return toBlobMeta(stored);
  }

  async head(name: string): Promise<BlobMeta | null> {
    const stored = this.meta.get(name);
    return stored ? toBlobMeta(stored) : null;
  }

  async get(name: string, range?: ByteRange): Promise<{ meta: BlobMeta; body: Readable } | null> {
    const stored = this.meta.get(name);
    if (!stored) return null;
    const start = range?.start ?? 0;
    const end = range?.end ?? stored.size - 1;
    // Checked before the response starts, in the same read snapshot as the metadata: a
    // damaged blob is a logged 500, not a connection cut after a 200.
    this.checkChunks(name, stored, start, end);
    return { meta: toBlobMeta(stored), body: Readable.from(this.readChunks(stored, start, end), { objectMode: false }) };
  }

  async delete(name: string): Promise<boolean> {
    try {
      const deleted = await lmdbWrite(
        this.root.transaction(() => {
          const previous = this.meta.get(name);
          if (!previous) return false;
          this.meta.remove(name);
          this.removeChunks(previous.uploadId);
          return true;
        }),
      );
      if (deleted) await lmdbWrite(this.root.flushed);
      return deleted;
    } catch (err) {
      throw await describeWriteFailure(err, this.dir);
    }
  }

  async *list(prefix: string): AsyncIterable<BlobListEntry> {
    for (const { key, value } of this.meta.getRange({ start: prefix })) {
      if (!key.startsWith(prefix)) return;
      yield { name: key, size: value.size };
    }
  }

  async ping(): Promise<void> {
    this.root.getStats();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.leftoverTimer);
    // A last try; what still fails is swept at the next open.
    if (this.leftovers.size > 0) await this.discardLeftovers();
    await this.root.close();
    this.lock.release();
  }

  /** Throws (a plain Error: logged, answered 500) when a chunk of the range is missing. */
  private checkChunks(name: string, stored: StoredMeta, start: number, end: number): void {
    if (stored.size === 0 || end < start) return;
    const first = Math.floor(start / stored.chunkSize);
    const last = Math.floor(end / stored.chunkSize);
    const found = this.chunks.getKeysCount({ start: [stored.uploadId, first], end: [stored.uploadId, last + 1] });
    if (found !== last - first + 1) {
      throw new Error(`blob "${name}" is damaged: ${last - first + 1 - found} of chunks ${first}-${last} of upload ${stored.uploadId} are missing`);
    }
  }

  /**
   * Reads chunk by chunk, each in its own short read transaction, so a slow
   * download never pins an old LMDB snapshot. A blob replaced mid-download
   * ends the stream with an error rather than mixing two versions.
   */
  private async *readChunks(stored: StoredMeta, start: number, end: number): AsyncGenerator<Buffer> {
    if (stored.size === 0 || end < start) return;
    const first = Math.floor(start / stored.chunkSize);
    const last = Math.floor(end / stored.chunkSize);
    for (let i = first; i <= last; i++) {
      const chunk = this.chunks.getBinary([stored.uploadId, i]);
      if (chunk === undefined) throw new ServiceError('LOGSVC_CONFLICT', 'the blob was replaced or deleted during the download');
      const from = i === first ? start - i * stored.chunkSize : 0;
      const to = i === last ? end - i * stored.chunkSize + 1 : chunk.length;
      yield Buffer.from(chunk.subarray(from, to));
    }
  }

  /**
   * Deletes a failed upload's chunks and its pending record. On a full disk
   * even that transaction can fail: the upload is then kept as a leftover and
   * tried again every few seconds (and at close, and by the sweep at the next
   * open), so nothing partial stays for good.
   */
  private async discard(uploadId: string): Promise<void> {
    try {
      await lmdbWrite(
        this.root.transaction(() => {
          this.removeChunks(uploadId);
          this.pending.remove(uploadId);
        }),
      );
    } catch {
      this.leftovers.add(uploadId);
      if (this.closed) return;
      this.leftoverTimer ??= setTimeout(() => {
        this.leftoverTimer = undefined;
        void this.discardLeftovers();
      }, LEFTOVER_RETRY_MS).unref();
    }
  }

  private async discardLeftovers(): Promise<void> {
    const uploadIds = [...this.leftovers];
    this.leftovers.clear();
    for (const uploadId of uploadIds) await this.discard(uploadId);
  }

  /** Call inside a write transaction. */
  private removeChunks(uploadId: string): void {
    for (const key of this.chunks.getKeys({ start: [uploadId, 0], end: [uploadId, Number.MAX_SAFE_INTEGER] })) {
      this.chunks.remove(key);
    }
  }

  private sweepAbandonedUploads(): void {
    const abandoned = [...this.pending.getKeys()];
    if (abandoned.length === 0) return;
    try {
      lmdbWriteSync(() =>
        this.root.transactionSync(() => {
          for (const uploadId of abandoned) {
            this.removeChunks(uploadId);
            this.pending.remove(uploadId);
          }
        }),
      );
    } catch {
      // A full disk: start anyway, and try again as for this process's own failed uploads.
      for (const uploadId of abandoned) void this.discard(uploadId);
    }
  }
}

function toBlobMeta(stored: StoredMeta): BlobMeta {
  return {
    size: stored.size,
    sha256: stored.sha256,
    contentType: stored.contentType,
    created: stored.created,
    // Without a hash (PutOptions.checksum), the upload's id: unique to this write of the blob.
    etag: `"${stored.sha256 === '' ? stored.uploadId : stored.sha256}"`,
  };
}

/** Regroups a byte stream into chunks of exactly `size` bytes (the last may be shorter). */
async function* chunked(source: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let held = 0;
  for await (const piece of source) {
    let offset = 0;
    while (offset < piece.length) {
      // A whole chunk inside one piece is passed on as a view, not copied.
      if (held === 0 && piece.length - offset >= size) {
        yield piece.subarray(offset, offset + size);
        offset += size;
        continue;
      }
      const take = Math.min(size - held, piece.length - offset);
      parts.push(piece.subarray(offset, offset + take));
      held += take;
      offset += take;
      if (held === size) {
        yield Buffer.concat(parts, held);
        parts = [];
        held = 0;
      }
    }
  }
  if (held > 0) yield Buffer.concat(parts, held);
}

/**
 * Upload ids: a random prefix drawn once per open, then a counter — unique
 * across processes and restarts as a fresh random id is, without a call into
 * the system's random source for every blob (the live archive writes hundreds a
 * second).
 */
class UploadIds {
  private readonly prefix = randomBytes(12).toString('base64url');
  private count = 0;

  next(): string {
    // `x.1` is a prefix of `x.10`; the key range [id, 0]–[id, max] of one still never takes in the other's
    // chunks: a string in a tuple key ends with a separator byte (lmdb's ordered-binary keys).
    return `${this.prefix}.${(this.count++).toString(36)}`;
  }
}
