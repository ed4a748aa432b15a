// Streaming a body into S3 so that the blob appears whole or not at all
// (BlobStore.put's contract), with its sha256 in the object's metadata.
//
// S3 fixes an object's metadata when the upload starts, but the sha256 is only
// known at the end. So:
//  * a body that fits in one part (most logs) is read whole (it has to be
//    buffered for a single PUT anyway) and written with one PutObject;
//  * a larger body goes by multipart upload (@aws-sdk/lib-storage, constant
//    memory) to a staging key, then a server-side copy creates the final key
//    with the full metadata in one step, and the staging object is deleted.
// A failed, cut or too-large body never reaches the final key: the multipart
// upload is aborted (lib-storage, leavePartsOnError: false) and any previous
// blob under the name stays as it was.
import { finished, Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  PutObjectCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { BlobMeta, PutOptions } from './blob-store.ts';
import { HashingMeter } from './hashing-meter.ts';
import { toServiceError } from './s3-client.ts';

const MiB = 1024 * 1024;
/** Multipart part size (S3 minimum 5 MiB); also the largest body sent as one PutObject. */
const PART_SIZE = 8 * MiB;
/** Parts in flight per upload: memory per upload stays near (QUEUE_SIZE + 1) × PART_SIZE. */
const QUEUE_SIZE = 2;
/** CopyObject's limit; larger objects are copied part by part (UploadPartCopy). */
const MAX_SINGLE_COPY = 5 * 1024 * MiB;
const COPY_PART_SIZE = 1024 * MiB;

export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** Our user metadata (x-amz-meta-*): what BlobMeta needs beyond S3's own headers. */
export interface StoredMeta {
  sha256: string;
  created: string;
  [key: string]: string;
}

export interface UploadTarget {
  client: S3Client;
  bucket: string;
  key: string;
  /** Where a multipart body waits until it is complete. */
  stagingKey: string;
}

export async function uploadObject(target: UploadTarget, body: Readable, options: PutOptions = {}): Promise<BlobMeta> {
  const contentType = options.contentType ?? DEFAULT_CONTENT_TYPE;
  const meter = new HashingMeter(options.maxBytes);
  // The source's errors (and a premature close: a cut request) reach us through
  // the meter; its own error is LOGSVC_BODY_TOO_LARGE. Either is what put reports.
  let failure: Error | undefined;
  meter.once('error', (err) => {
    failure = err;
  });
  // Not pipeline(): it would destroy the request socket when the meter refuses
  // a too-large body, and the client would never see the 413.
  finished(body, (err) => {
    if (err) meter.destroy(err);
  });
  body.pipe(meter);
  const chunks: AsyncIterator<Buffer> = meter[Symbol.asyncIterator]();
  try {
    const first: Buffer[] = [];
    let firstBytes = 0;
    let ended = false;
    while (firstBytes <= PART_SIZE) {
      const next = await chunks.next();
      if (next.done === true) {
        ended = true;
        break;
      }
      first.push(next.value);
      firstBytes += next.value.length;
    }
    if (ended) return await putWhole(target, Buffer.concat(first), meter.digest(), contentType);
    return await putMultipart(target, Readable.from(concatChunks(first, chunks), { objectMode: false }), meter, contentType);
  } catch (err) {
    body.unpipe(meter);
    meter.destroy();
    throw failure ?? toServiceError(err, 'upload');
  }
}

async function putWhole(target: UploadTarget, data: Buffer, sha256: string, contentType: string): Promise<BlobMeta> {
  const metadata: StoredMeta = { sha256, created: new Date().toISOString() };
  await target.client.send(
    new PutObjectCommand({
      Bucket: target.bucket,
      Key: target.key,
      Body: data,
      ContentLength: data.length,
      ContentType: contentType,
      Metadata: metadata,
    }),
  );
  return { size: data.length, sha256, contentType, created: metadata.created, etag: `"${sha256}"` };
}

async function putMultipart(target: UploadTarget, body: Readable, meter: HashingMeter, contentType: string): Promise<BlobMeta> {
  const { client, bucket } = target;
  const upload = new Upload({
    client,
    params: { Bucket: bucket, Key: target.stagingKey, Body: body, ContentType: contentType },
    partSize: PART_SIZE,
    queueSize: QUEUE_SIZE,
    leavePartsOnError: false,
  });
  try {
    await upload.done();
  } catch (err) {
    // lib-storage aborts the multipart upload itself when a part or the body
    // fails; abort() also stops parts still queued.
    await upload.abort();
    body.destroy();
    throw err;
  }
  const sha256 = meter.digest();
  const metadata: StoredMeta = { sha256, created: new Date().toISOString() };
  try {
    await copyObject(client, bucket, target.stagingKey, target.key, meter.bytes, contentType, metadata);
  } finally {
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: target.stagingKey })).catch(() => {});
  }
  return { size: meter.bytes, sha256, contentType, created: metadata.created, etag: `"${sha256}"` };
}

async function* concatChunks(first: Buffer[], rest: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  yield* first;
  for (;;) {
    const next = await rest.next();
    if (next.done === true) return;
    yield next.value;
  }
}

/** `x-amz-copy-source`: bucket/key with each key segment URL-encoded. */
function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * Server-side copy that replaces the metadata, so `to` appears in one step with
 * content and metadata together. `ifMatch` guards against copying a newer
 * object than the one that was read (412 when it changed).
 */
export async function copyObject(
  client: S3Client,
  bucket: string,
  from: string,
  to: string,
  size: number,
  contentType: string,
  metadata: StoredMeta,
  ifMatch?: string,
): Promise<void> {
  const source = copySource(bucket, from);
  if (size <= MAX_SINGLE_COPY) {
    await client.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: to,
        CopySource: source,
        CopySourceIfMatch: ifMatch,
        MetadataDirective: 'REPLACE',
        ContentType: contentType,
        Metadata: metadata,
      }),
    );
    return;
  }
  const { UploadId } = await client.send(
    new CreateMultipartUploadCommand({
      Bucket: bucket,
      Key: to,
      ContentType: contentType,
      Metadata: metadata,
    }),
  );
  try {
    const parts: CompletedPart[] = [];
    for (let partNumber = 1, start = 0; start < size; partNumber++, start += COPY_PART_SIZE) {
      const end = Math.min(size, start + COPY_PART_SIZE) - 1;
      const result = await client.send(
        new UploadPartCopyCommand({
          Bucket: bucket,
          Key: to,
          UploadId,
          PartNumber: partNumber,
          CopySource: source,
          CopySourceIfMatch: ifMatch,
          CopySourceRange: `bytes=${start}-${end}`,
        }),
      );
      parts.push({ PartNumber: partNumber, ETag: result.CopyPartResult?.ETag });
    }
    await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: to, UploadId, MultipartUpload: { Parts: parts } }));
  } catch (err) {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: to, UploadId })).catch(() => {});
    throw err;
  }
}
