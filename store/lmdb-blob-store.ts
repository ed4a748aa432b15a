// LMDB BlobStore (docs/BACKENDS.md): a blob is a metadata record plus fixed-size
// chunks keyed [uploadId, index]. An upload writes chunks under a fresh
// uploadId that nothing points to, then one transaction points the metadata at
// them and drops the old chunks: readers see the old blob or the new one, never
// a mix. Uploads cut by a crash are listed in `pending` and swept at open.
import { randomBytes } from 'node:crypto';
import { finished, Readable } from 'node:stream';
import { open, type Database, type RootDatabase } from 'lmdb';
import { ServiceError } from '../foundation/errors.ts';
import type { BlobListEntry, BlobMeta, BlobStore, ByteRange, PutOptions } from './blob-store.ts';
import { HashingMeter } from './hashing-meter.ts';

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

export class LmdbBlobStore implements BlobStore {
  readonly kind = 'lmdb';
  private readonly root: RootDatabase;
  private readonly meta: Database<StoredMeta, string>;
  private readonly chunks: Database<Buffer, ChunkKey>;
  private readonly pending: Database<string, string>;

  constructor(path: string) {
    // separateFlushed: a write resolves once committed, and durability is awaited
    // once per upload (root.flushed) instead of once per chunk commit; the 204
    // still waits for the disk (see put).
    this.root = open({ path, compression: false, separateFlushed: true });
    this.meta = this.root.openDB<StoredMeta, string>({ name: 'blob-meta' });
    this.chunks = this.root.openDB<Buffer, ChunkKey>({ name: 'blob-chunks', encoding: 'binary' });
    this.pending = this.root.openDB<string, string>({ name: 'blob-pending', encoding: 'string' });
    this.sweepAbandonedUploads();
  }

  async put(name: string, body: Readable, options: PutOptions = {}): Promise<BlobMeta> {
    const uploadId = randomBytes(12).toString('base64url');
    this.pending.putSync(uploadId, new Date().toISOString());
    const meter = new HashingMeter(options.maxBytes);
    const writes: Promise<unknown>[] = [];
    let index = 0;
    let committed = false;
    try {
      // Not pipeline(): it would destroy the request socket when the meter
      // refuses a too-large body, and the client would never see the 413.
      finished(body, (err) => { if (err) meter.destroy(err); });
      body.pipe(meter);
      for await (const chunk of chunked(meter, CHUNK_SIZE)) {
        const write = this.chunks.put([uploadId, index++], chunk);
        // Awaited below; until then a failure must not count as unhandled (it would end the process).
        write.catch(() => {});
        writes.push(write);
        if (writes.length >= MAX_PENDING_WRITES) await writes.shift();
      }
      await Promise.all(writes);
      const stored: StoredMeta = {
        uploadId, size: meter.bytes, sha256: meter.digest(), contentType: options.contentType ?? 'application/octet-stream',
        created: new Date().toISOString(), chunkSize: CHUNK_SIZE,
      };
      await this.root.transaction(() => {
        const previous = this.meta.get(name);
        this.meta.put(name, stored);
        this.pending.remove(uploadId);
        if (previous) this.removeChunks(previous.uploadId);
      });
      committed = true;
      // Durable before the caller is told: the chunks and the commit that points at them.
      await this.root.flushed;
      return toBlobMeta(stored);
    } catch (err) {
      // After the commit the new blob is in place (the old chunks are gone): a
      // failed flush is reported, but its chunks must stay.
      if (committed) throw err;
      body.unpipe(meter);
      await Promise.allSettled(writes);
      await this.root.transaction(() => {
        this.removeChunks(uploadId);
        this.pending.remove(uploadId);
      });
      throw err;
    }
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
    return { meta: toBlobMeta(stored), body: Readable.from(this.readChunks(stored, start, end), { objectMode: false }) };
  }

  async delete(name: string): Promise<boolean> {
    const deleted = await this.root.transaction(() => {
      const previous = this.meta.get(name);
      if (!previous) return false;
      this.meta.remove(name);
      this.removeChunks(previous.uploadId);
      return true;
    });
    if (deleted) await this.root.flushed;
    return deleted;
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
    await this.root.close();
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

  /** Call inside a write transaction. */
  private removeChunks(uploadId: string): void {
    for (const key of this.chunks.getKeys({ start: [uploadId, 0], end: [uploadId, Number.MAX_SAFE_INTEGER] })) {
      this.chunks.remove(key);
    }
  }

  private sweepAbandonedUploads(): void {
    const abandoned = [...this.pending.getKeys()];
    if (abandoned.length === 0) return;
    this.root.transactionSync(() => {
      for (const uploadId of abandoned) {
        this.removeChunks(uploadId);
        this.pending.remove(uploadId);
      }
    });
  }
}

function toBlobMeta(stored: StoredMeta): BlobMeta {
  return {
    size: stored.size, sha256: stored.sha256, contentType: stored.contentType, created: stored.created,
    etag: `"${stored.sha256}"`,
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
