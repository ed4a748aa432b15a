// The error catalogue as gRPC statuses (docs/GRPC.md, "Errors"): every
// LOGSVC_* code has one gRPC code, and the catalogue code itself travels in
// the trailing metadata (`logsvc-code`) so a client matches on the same code
// over gRPC as over HTTP (CONTRIBUTING.md, habit 2). The Record type makes the
// compiler refuse a catalogue code without a mapping.
import { Metadata, status, type ServerErrorResponse } from '@grpc/grpc-js';
import { isServiceError, ServiceError, type ErrorCode } from '../foundation/errors.ts';

/** The trailing metadata key of the catalogue code. */
const CODE_METADATA_KEY = 'logsvc-code';

export const GRPC_STATUS: Record<ErrorCode, status> = {
  LOGSVC_BAD_REQUEST: status.INVALID_ARGUMENT,
  LOGSVC_INVALID_KEY: status.INVALID_ARGUMENT,
  LOGSVC_INVALID_ID: status.INVALID_ARGUMENT,
  LOGSVC_INVALID_ACCOUNT: status.INVALID_ARGUMENT,
  LOGSVC_INVALID_JSON: status.INVALID_ARGUMENT,
  LOGSVC_INVALID_LINE: status.INVALID_ARGUMENT,
  LOGSVC_INVALID_PARAM: status.INVALID_ARGUMENT,
  LOGSVC_UNSUPPORTED_MEDIA_TYPE: status.INVALID_ARGUMENT,
  LOGSVC_UNAUTHORIZED: status.UNAUTHENTICATED,
  LOGSVC_FORBIDDEN: status.PERMISSION_DENIED,
  // An expired token is a credential to renew, not a missing permission.
  LOGSVC_TOKEN_EXPIRED: status.UNAUTHENTICATED,
  LOGSVC_LINK_INVALID: status.PERMISSION_DENIED,
  LOGSVC_LINK_EXPIRED: status.PERMISSION_DENIED,
  LOGSVC_NOT_FOUND: status.NOT_FOUND,
  LOGSVC_STREAM_NOT_FOUND: status.NOT_FOUND,
  LOGSVC_BLOB_NOT_FOUND: status.NOT_FOUND,
  LOGSVC_METHOD_NOT_ALLOWED: status.UNIMPLEMENTED,
  LOGSVC_REQUEST_TIMEOUT: status.DEADLINE_EXCEEDED,
  LOGSVC_CONFLICT: status.FAILED_PRECONDITION,
  LOGSVC_BODY_TOO_LARGE: status.RESOURCE_EXHAUSTED,
  LOGSVC_TOO_MANY_ENTRIES: status.RESOURCE_EXHAUSTED,
  LOGSVC_HEADERS_TOO_LARGE: status.RESOURCE_EXHAUSTED,
  LOGSVC_RANGE_NOT_SATISFIABLE: status.OUT_OF_RANGE,
  LOGSVC_TOO_MANY_TAILS: status.RESOURCE_EXHAUSTED,
  LOGSVC_TOO_MANY_STREAMS: status.RESOURCE_EXHAUSTED,
  LOGSVC_INTERNAL: status.INTERNAL,
  // gRPC's code for "retry later": Redis down, a failover, a restart.
  LOGSVC_BACKEND_UNAVAILABLE: status.UNAVAILABLE,
  LOGSVC_SHUTTING_DOWN: status.UNAVAILABLE,
  LOGSVC_STORAGE_FULL: status.RESOURCE_EXHAUSTED,
};

/**
 * A token that opens nothing (missing, not valid, expired): UNAUTHENTICATED,
 * whatever HTTP status its catalogue code has, since gRPC clients retry with
 * new credentials on that code. The catalogue code is kept in the trailers.
 */
export class CredentialError extends Error {
  constructor(readonly serviceError: ServiceError) {
    super(serviceError.message);
  }
}

/**
 * Any error as the status a call ends with. Unknown errors are LOGSVC_INTERNAL
 * and their text stays in the server's log (as handler/error-response.ts does).
 */
export function toGrpcError(err: unknown, onUnknown?: (err: unknown) => void): Partial<ServerErrorResponse> {
  let error: ServiceError;
  let grpcCode: status | undefined;
  if (err instanceof CredentialError) {
    error = err.serviceError;
    grpcCode = status.UNAUTHENTICATED;
  } else if (isServiceError(err)) {
    error = err;
  } else {
    onUnknown?.(err);
    error = new ServiceError('LOGSVC_INTERNAL');
  }
  const metadata = new Metadata();
  metadata.set(CODE_METADATA_KEY, error.code);
  return { code: grpcCode ?? GRPC_STATUS[error.code], details: error.message, metadata };
}

/** What a streaming call offers to end it (server-streaming and bidi calls do). */
interface EndableCall {
  readonly writableEnded: boolean;
  readonly destroyed: boolean;
  emit(event: 'error', err: Partial<ServerErrorResponse>): boolean;
}

/** Ends a streaming call with `err`'s status, after the messages already written. Once only. */
export function endWithError(call: EndableCall, err: unknown, onUnknown?: (err: unknown) => void): void {
  if (!call.writableEnded && !call.destroyed) call.emit('error', toGrpcError(err, onUnknown));
}
