// What every handler receives: the two interfaces, config and shared helpers.
// Built once in app/services.ts (config is read only there).
import type { Logger } from 'pino';
import type { Config } from '../foundation/config.ts';
import type { BlobStore } from '../store/blob-store.ts';
import type { SignedLinks } from '../store/signed-links.ts';
import type { ZipExports } from '../store/zip-export.ts';
import type { LogStream } from '../stream/log-stream.ts';
import type { Authenticator } from './auth.ts';
import type { Metrics } from './metrics.ts';
import type { TailCounter } from './tail-counter.ts';

export interface HandlerContext {
  config: Config;
  stream: LogStream;
  store: BlobStore;
  auth: Authenticator;
  links: SignedLinks;
  tails: TailCounter;
  metrics: Metrics;
  /** Background zip exports (stores that presign links only: S3). */
  zipExports?: ZipExports;
  log: Logger;
  /** Aborted when the server starts shutting down. */
  shutdown: AbortSignal;
}
