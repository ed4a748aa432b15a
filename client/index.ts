// log-service/client: the typed HTTP client for the log service (DESIGN §5, §6).
//
//   const client = new LogServiceClient({ server: 'http://127.0.0.1:8079', token });
//   // or LogServiceClient.fromEnv(): LOG_SERVICE_SERVER / LOG_SERVICE_TOKEN
//   const step = { project: 'web', build: '42', stage: 'test', step: 'unit' };
//   await client.stream(step).open();
//   await client.stream(step).push(child.stdout);
//   await client.stream(step).close({ snapshot: true });
//   for await (const event of client.stream(step).tail()) …
export { LogServiceClient } from './log-service-client.ts';
export { clientOptionsFromEnv } from './client-env.ts';
export type { ClientEnvironment } from './client-env.ts';
export { StreamHandle } from './stream-handle.ts';
export { BlobHandle } from './blob-handle.ts';
export { LogServiceError, PushError, isLogServiceError } from './log-service-error.ts';
export type { ClientErrorCode, LogServiceErrorCode } from './log-service-error.ts';
export { ERROR_CODES } from './wire.ts';
export type { ErrorCode } from './wire.ts';
export type {
  Address,
  BatchLimits,
  BlobStat,
  ByteRange,
  CallOptions,
  CiAddress,
  CloseOptions,
  DownloadOptions,
  HarnessAddress,
  LineInput,
  Link,
  LogLine,
  LogServiceClientOptions,
  OpenOptions,
  OpenStream,
  PemSource,
  PushBufferOptions,
  PushEvent,
  PushOptions,
  PushResult,
  PushSource,
  StreamInfo,
  TailEvent,
  TailOptions,
  TokenRequest,
  TransferProgress,
  UploadOptions,
  UploadSource,
} from './types.ts';
