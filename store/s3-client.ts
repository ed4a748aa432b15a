// The S3 client the S3 blob store talks through, and how S3's failures map onto
// the error catalogue (docs/PROTOCOL.md §9: 404 → "no such blob", unreachable → 503).
import { S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { isServiceError, ServiceError } from '../foundation/errors.ts';

/** Where the blobs live; the composition root fills it from LOG_SERVICE_S3_*. */
export interface S3Config {
  bucket: string;
  prefix: string;
  endpoint?: string;
  pathStyle: boolean;
  region: string;
  accessKeyId?: string;
  secretAccessKey?: string;
}

/** Sockets per S3 host: every open download holds one for as long as its viewer reads. */
const MAX_SOCKETS = 256;

export function createS3Client(config: S3Config): S3Client {
  return new S3Client({
    region: config.region,
    endpoint: config.endpoint,
    forcePathStyle: config.pathStyle,
    // Without static keys the SDK's default chain applies (env, profile, IMDS, IRSA…).
    credentials:
      config.accessKeyId !== undefined && config.secretAccessKey !== undefined
        ? { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey }
        : undefined,
    // The SDK's default (WHEN_SUPPORTED) sends streamed bodies with aws-chunked
    // framing and trailing CRC32s, which S3-compatible servers (s3rver, older
    // MinIO) store verbatim, and puts a checksum of an empty body into presigned
    // PUT links. Content integrity is our own sha256 instead.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      connectionTimeout: 5000,
      httpAgent: { keepAlive: true, maxSockets: MAX_SOCKETS },
      httpsAgent: { keepAlive: true, maxSockets: MAX_SOCKETS },
    },
  });
}

/** S3's "there is no such object" in its several spellings (HEAD has no body, so only a status). */
export function isNotFound(err: unknown): boolean {
  if (err instanceof S3ServiceException) {
    return err.name === 'NotFound' || err.name === 'NoSuchKey' || (err.$metadata.httpStatusCode === 404 && err.name !== 'NoSuchBucket');
  }
  return false;
}

function httpStatusOf(err: unknown): number | undefined {
  return err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
}

/** S3 names that mean "this backend cannot serve", not "this request is wrong". */
const UNAVAILABLE_NAMES = new Set([
  'NoSuchBucket',
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout',
  'TimeoutError',
]);

/** S3 names for "no room left": MinIO's full drives and bucket quotas, and quota errors of other S3-compatible servers. */
const STORAGE_FULL_NAMES = new Set(['XMinioStorageFull', 'XMinioAdminBucketQuotaExceeded', 'QuotaExceeded', 'InsufficientStorage']);

/**
 * Turns a failure of an S3 call into a catalogue error. A server with no room
 * left (507, or a storage-full or quota error name) is LOGSVC_STORAGE_FULL
 * (507: nothing was stored; retrying soon will not help). Anything that means S3
 * cannot serve (no connection, timeouts, 5xx, throttling, bad credentials, no
 * bucket) is LOGSVC_BACKEND_UNAVAILABLE (503, retry later); catalogue errors
 * pass through; the rest is LOGSVC_INTERNAL.
 */
export function toServiceError(err: unknown, action: string): ServiceError {
  if (isServiceError(err)) return err;
  const status = httpStatusOf(err);
  const name = err instanceof Error ? err.name : undefined;
  const detail = err instanceof Error ? err.message : String(err);
  if (status === 416 || name === 'InvalidRange') {
    return new ServiceError('LOGSVC_RANGE_NOT_SATISFIABLE', undefined, { cause: err });
  }
  if (status === 507 || (name !== undefined && STORAGE_FULL_NAMES.has(name))) {
    return new ServiceError('LOGSVC_STORAGE_FULL', `S3 has no room left (${action}): ${name ?? 'error'}: ${detail}`, { cause: err });
  }
  const unreachable =
    (status === undefined ? isNetworkError(err) : status >= 500 || status === 403 || status === 429) || (name !== undefined && UNAVAILABLE_NAMES.has(name));
  if (unreachable) {
    return new ServiceError('LOGSVC_BACKEND_UNAVAILABLE', `S3 is unavailable (${action}): ${name ?? 'error'}: ${detail}`, { cause: err });
  }
  return new ServiceError('LOGSVC_INTERNAL', `S3 ${action} failed: ${name ?? 'error'}: ${detail}`, { cause: err });
}

/** No HTTP answer at all: refused, reset, DNS, TLS, socket timeout (Node's `E…` codes). */
function isNetworkError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) || err.name === 'TimeoutError' || '$metadata' in err;
}
