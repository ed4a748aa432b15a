// BlobStore on S3 and S3-compatible servers (MinIO, …) — docs/BACKENDS.md "S3 store".
// Object key = config.prefix + name, where name is `<accountID>/<key>` (docs/PROTOCOL.md §3).
// Each object carries its sha256 and creation time as user metadata
// (x-amz-meta-sha256, x-amz-meta-created); the ETag we hand out is the quoted
// sha256 (RFC 9110 §8.8.3 strong validator), the same on every backend.
import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { ServiceError } from '../foundation/errors.ts';
import type { BlobListEntry, BlobMeta, BlobStore, ByteRange, LinkMethod, PutOptions } from './blob-store.ts';
import { createS3Client, isNotFound, toServiceError, type S3Config } from './s3-client.ts';
import { copyObject, DEFAULT_CONTENT_TYPE, uploadObject, type StoredMeta } from './s3-upload.ts';

/**
 * Staging area for multipart bodies, under the configured prefix. `~` cannot
 * start an account ID, so no blob name collides with it. A lifecycle rule
 * expiring `<prefix>~uploads/` after a day cleans up after crashed instances.
 */
const STAGING_DIR = '~uploads/';

export interface S3BlobStoreOptions {
  /** ListObjectsV2 MaxKeys (S3 caps it at 1000); tests lower it to force pagination. */
  listPageSize?: number;
}

/** S3's view of an object: what HeadObject and GetObject both return. */
interface ObjectHeaders {
  ContentLength?: number;
  ContentRange?: string;
  ContentType?: string;
  ETag?: string;
  LastModified?: Date;
  Metadata?: Record<string, string>;
}

class S3BlobStore implements BlobStore {
  readonly kind = 's3';
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly listPageSize: number | undefined;

  constructor(config: S3Config, options: S3BlobStoreOptions = {}) {
    this.client = createS3Client(config);
    this.bucket = config.bucket;
    this.prefix = config.prefix;
    this.listPageSize = options.listPageSize;
  }

  private key(name: string): string {
    return this.prefix + name;
  }

  async put(name: string, body: Readable, options?: PutOptions): Promise<BlobMeta> {
    const stagingKey = `${this.prefix}${STAGING_DIR}${randomUUID()}`;
    return uploadObject({ client: this.client, bucket: this.bucket, key: this.key(name), stagingKey }, body, options);
  }

  async putBytes(name: string, bytes: Buffer, options?: PutOptions): Promise<BlobMeta> {
    return this.put(name, Readable.from([bytes]), options);
  }

  async head(name: string): Promise<BlobMeta | null> {
    let headers: ObjectHeaders;
    try {
      headers = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(name) }));
    } catch (err) {
      if (isNotFound(err)) return null;
      throw toServiceError(err, 'head');
    }
    return toBlobMeta(headers) ?? this.backfill(name, headers);
  }

  async get(name: string, range?: ByteRange): Promise<{ meta: BlobMeta; body: Readable } | null> {
    // Set when the object lacked our metadata and head() hashed it (see backfill).
    let hashed: BlobMeta | undefined;
    for (;;) {
      let response;
      try {
        response = await this.client.send(
          new GetObjectCommand({
            Bucket: this.bucket,
            Key: this.key(name),
            // RFC 9110 §14.1.2: first-last, inclusive; the caller already resolved it.
            Range: range === undefined ? undefined : `bytes=${range.start}-${range.end}`,
          }),
        );
      } catch (err) {
        if (isNotFound(err)) return null;
        throw toServiceError(err, 'get');
      }
      const body = range === undefined ? (response.Body as Readable) : exactRange(response.Body as Readable, response.ContentRange, range);
      const meta = toBlobMeta(response) ?? hashed;
      if (meta !== undefined) return { meta, body };
      // Written around this service (a presigned PUT): hash it once, then read again.
      body.destroy();
      const headed = await this.head(name);
      if (headed === null) return null;
      hashed = headed;
    }
  }

  async delete(name: string): Promise<boolean> {
    const Key = this.key(name);
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
    } catch (err) {
      if (isNotFound(err)) return false;
      throw toServiceError(err, 'delete');
    }
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
      return true;
    } catch (err) {
      throw toServiceError(err, 'delete');
    }
  }

  async *list(prefix: string): AsyncIterable<BlobListEntry> {
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.key(prefix),
            ContinuationToken: token,
            MaxKeys: this.listPageSize,
          }),
        );
      } catch (err) {
        throw toServiceError(err, 'list');
      }
      // S3 returns keys in UTF-8 binary order, which is name order.
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined || !object.Key.startsWith(this.prefix)) continue;
        const name = object.Key.slice(this.prefix.length);
        if (name.startsWith(STAGING_DIR)) continue;
        yield { name, size: object.Size ?? 0 };
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async presign(name: string, method: LinkMethod, expiresInSeconds: number): Promise<string> {
    const input = { Bucket: this.bucket, Key: this.key(name) };
    const command = method === 'GET' ? new GetObjectCommand(input) : new PutObjectCommand(input);
    try {
      return await getSignedUrl(this.client, command, { expiresIn: expiresInSeconds });
    } catch (err) {
      throw toServiceError(err, 'presign');
    }
  }

  async ping(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      const mapped = toServiceError(err, `bucket ${this.bucket}`);
      throw mapped.code === 'LOGSVC_BACKEND_UNAVAILABLE' ? mapped : new ServiceError('LOGSVC_BACKEND_UNAVAILABLE', mapped.message, { cause: err });
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  /**
   * An object without our metadata was written around the service (presigned
   * PUT, another tool). Hash it once and store the sha256 with a metadata-only
   * self-copy, guarded by its S3 ETag so a concurrent overwrite is not clobbered.
   */
  private async backfill(name: string, headers: ObjectHeaders): Promise<BlobMeta | null> {
    const Key = this.key(name);
    const hash = createHash('sha256');
    let size = 0;
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key, IfMatch: headers.ETag }));
      for await (const chunk of response.Body as Readable) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
    } catch (err) {
      if (isNotFound(err)) return null;
      throw toServiceError(err, 'head');
    }
    const contentType = headers.ContentType ?? DEFAULT_CONTENT_TYPE;
    const metadata: StoredMeta = {
      ...headers.Metadata,
      sha256: hash.digest('hex'),
      created: (headers.LastModified ?? new Date()).toISOString(),
    };
    // Best effort: when the object changed meanwhile, the next head hashes the new one.
    await copyObject(this.client, this.bucket, Key, Key, size, contentType, metadata, headers.ETag).catch(() => {});
    return { size, sha256: metadata.sha256, contentType, created: metadata.created, etag: `"${metadata.sha256}"` };
  }
}

export function createS3BlobStore(config: S3Config, options?: S3BlobStoreOptions): BlobStore {
  return new S3BlobStore(config, options);
}

/** BlobMeta from S3's headers, or undefined when our sha256 metadata is missing. */
function toBlobMeta(headers: ObjectHeaders): BlobMeta | undefined {
  const sha256 = headers.Metadata?.sha256;
  if (sha256 === undefined || !/^[0-9a-f]{64}$/.test(sha256)) return undefined;
  // A ranged GET reports the whole size after the slash: "bytes 0-9/1234".
  const total = /\/(\d+)$/.exec(headers.ContentRange ?? '')?.[1];
  return {
    size: total !== undefined ? Number(total) : (headers.ContentLength ?? 0),
    sha256,
    contentType: headers.ContentType ?? DEFAULT_CONTENT_TYPE,
    created: headers.Metadata?.created ?? (headers.LastModified ?? new Date(0)).toISOString(),
    etag: `"${sha256}"`,
  };
}

/**
 * The body of a ranged GET, trimmed to exactly the requested bytes. Some
 * S3-compatible servers answer more than asked — s3rver reads "bytes=0-0" as
 * "bytes=0-", and a server may ignore Range and send the whole object (200, no
 * Content-Range) — and a viewer must never get bytes it did not ask for.
 */
function exactRange(body: Readable, contentRange: string | undefined, range: ByteRange): Readable {
  const served = /^bytes (\d+)-(\d+)\//.exec(contentRange ?? '');
  const servedStart = served === null ? 0 : Number(served[1]);
  const servedEnd = served === null ? Infinity : Number(served[2]);
  if (servedStart === range.start && servedEnd === range.end) return body;
  if (servedStart > range.start || servedEnd < range.end) {
    body.destroy();
    throw new ServiceError('LOGSVC_INTERNAL', `S3 served ${contentRange ?? 'the whole object'} for bytes=${range.start}-${range.end}`);
  }
  const trimmed = Readable.from(window(body, range.start - servedStart, range.end - range.start + 1), { objectMode: false });
  // Also when the reader hangs up before the first read (the generator never ran).
  trimmed.once('close', () => body.destroy());
  return trimmed;
}

async function* window(body: Readable, skip: number, take: number): AsyncGenerator<Buffer> {
  // Returning early ends the for-await, which destroys `body` (no reading the rest).
  for await (const chunk of body) {
    let bytes = chunk as Buffer;
    if (skip >= bytes.length) {
      skip -= bytes.length;
      continue;
    }
    bytes = bytes.subarray(skip, skip + take);
    skip = 0;
    take -= bytes.length;
    yield bytes;
    if (take === 0) return;
  }
}
