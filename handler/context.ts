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
import type { SnapshotTextCache } from './tail/snapshot-texts.ts';

export interface HandlerContext {
  config: Config;
  stream: LogStream;
  store: BlobStore;
  auth: Authenticator;
  links: SignedLinks;
  tails: TailCounter;
  /** Finished logs' text, decoded once for all their raw readers. */
  snapshotTexts: SnapshotTextCache;
  metrics: Metrics;
  /** Background zip exports (stores that presign links only: S3). */
  zipExports?: ZipExports;
  log: Logger;
  /** Aborted when the server starts shutting down. */
  shutdown: AbortSignal;
}
