// The BlobStore interface: what handlers need from a blob backend (docs/BACKENDS.md).
// Backends: lmdb (embedded) and s3. Names are `<accountID>/<key>` (docs/PROTOCOL.md §3).
import type { Readable } from 'node:stream';

export interface BlobMeta {
  size: number;
  /** Hex sha256 of the content, or '' for a blob written with `checksum: false` (PutOptions). */
  sha256: string;
  contentType: string;
  /** ISO 8601 creation time. */
  created: string;
  /** Strong validator (RFC 9110 §8.8.3), quoted: the sha256, or an id of this write when there is none. */
  etag: string;
}

/** An inclusive byte range already resolved against the blob's size. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface PutOptions {
  contentType?: string;
  /** Rejects with LOGSVC_BODY_TOO_LARGE (and stores nothing) past this many bytes. */
  maxBytes?: number;
  /**
   * False: resolve once the blob is committed, without waiting for the disk
   * (LMDB's fsync). It survives a crash of the process, not of the machine.
   * The live archive's chunks (docs/ARCHIVE.md); every blob a client writes
   * waits for the disk. Stores that have no such wait ignore it.
   */
  durable?: boolean;
  /**
   * False: nobody will ask for this blob's sha256 or ETag (the live
   * archive's chunks, which no client downloads: hashing them was ~4 % of
   * the server's time under ingest). A store may then skip the hash:
   * `sha256` is '' and the ETag is still a strong validator of this write.
   */
  checksum?: boolean;
}

export interface BlobListEntry {
  name: string;
  size: number;
}

export type LinkMethod = 'GET' | 'PUT';

export interface BlobStore {
  /** Short backend name for logs and health ("lmdb", "s3"). */
  readonly kind: string;
  /**
   * Streams `body` into the store. The blob appears only when the whole body
   * was read; an error or a cut body leaves any previous blob untouched and
   * nothing partial behind.
   */
  put(name: string, body: Readable, options?: PutOptions): Promise<BlobMeta>;
  /**
   * put() of a body already in memory (the live archive's chunks, many a
   * second): the same guarantees, without a stream to pipe the bytes through.
   * The store may read `bytes` until the promise settles, never after: the
   * caller keeps them unchanged until then, and may reuse them once it has.
   */
  putBytes(name: string, bytes: Buffer, options?: PutOptions): Promise<BlobMeta>;
  /** Metadata, or null when there is no such blob. */
  head(name: string): Promise<BlobMeta | null>;
  /** A stream of the blob (or of `range`), or null when there is no such blob. */
  get(name: string, range?: ByteRange): Promise<{ meta: BlobMeta; body: Readable } | null>;
  /** False when there was nothing to delete. */
  delete(name: string): Promise<boolean>;
  /** Blobs whose names start with `prefix`, in name order. */
  list(prefix: string): AsyncIterable<BlobListEntry>;
  /**
   * A URL a client can use without the service's credentials (S3 presigned).
   * Absent on stores that cannot sign their own URLs; the service then hands
   * out links to itself (store/signed-links.ts).
   */
  presign?(name: string, method: LinkMethod, expiresInSeconds: number): Promise<string>;
  /** Throws when the backend cannot serve (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
