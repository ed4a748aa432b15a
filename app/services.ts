// Wires backends from config (docs/ARCHITECTURE.md §1): the only place that chooses between
// memory and Redis streams, LMDB and S3 blobs.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { ArchivedLogStream } from '../archive/archived-log-stream.ts';
import { Authenticator } from '../handler/auth.ts';
import type { HandlerContext } from '../handler/context.ts';
import { Metrics } from '../handler/metrics.ts';
import { SnapshotTextCache } from '../handler/tail/snapshot-texts.ts';
import { TailCounter } from '../handler/tail-counter.ts';
import type { BlobStore } from '../store/blob-store.ts';
import { LmdbBlobStore } from '../store/lmdb-blob-store.ts';
import { SignedLinks } from '../store/signed-links.ts';
import { ZipExports } from '../store/zip-export.ts';
import type { LogStream, StreamLimits } from '../stream/log-stream.ts';
import { MemoryLogStream } from '../stream/memory-log-stream.ts';
import { openConsoleOutput } from '../scribe/console-output.ts';
import { ScribeFiles } from '../scribe/scribe-files.ts';
import { ScribeTee } from '../scribe/scribe-tee.ts';
import type { Config } from '../foundation/config.ts';

export interface Services {
  context: HandlerContext;
  /** Starts the shutdown signal handlers see. */
  beginShutdown(): void;
  /** Closes backends; call after the HTTP server stopped. */
  close(): Promise<void>;
}

export async function createServices(config: Config, log: Logger): Promise<Services> {
  const limits: StreamLimits = { ...config.stream };
  const store = await createBlobStore(config, log);
  const archived = new ArchivedLogStream(await createLogStream(config, limits, log), store, {
    closedGraceMs: config.stream.closedGraceSeconds * 1000,
    onError: (err, name) => log.warn({ err, name }, 'archive: a chunk could not be written or read; retrying'),
  });
  const stream = withScribe(config, archived, log);
  const shutdown = new AbortController();
  const zipExports =
    store.presign !== undefined ? new ZipExports(store, { maxEntries: config.limits.zipMaxEntries, linkExpirySeconds: config.linkExpirySeconds }) : undefined;
  const metrics = new Metrics();
  metrics.streamMemory = () => stream.memoryUsage?.();
  const context: HandlerContext = {
    config,
    stream,
    store,
    log,
    shutdown: shutdown.signal,
    auth: new Authenticator(config.auth),
    links: new SignedLinks(config.auth.secret),
    tails: new TailCounter(config.limits.maxTailsPerAccount),
    snapshotTexts: new SnapshotTextCache(),
    metrics,
    zipExports,
  };
  return {
    context,
    beginShutdown: () => shutdown.abort(),
    async close() {
      await stream.shutdown();
      await zipExports?.close();
      await store.close();
    },
  };
}

async function createLogStream(config: Config, limits: StreamLimits, log: Logger): Promise<LogStream> {
  if (config.redis !== undefined) {
    const { createRedisLogStream } = await import('../stream/redis-wiring.ts');
    log.info('streams: redis');
    return createRedisLogStream(config.redis, limits, log);
  }
  log.info({ maxLines: limits.maxLines, maxBytes: limits.maxBytes, budgetBytes: config.memoryBudgetBytes }, 'streams: in memory');
  return new MemoryLogStream(limits, { maxStreams: config.memoryMaxStreams, memoryBudgetBytes: config.memoryBudgetBytes });
}

/** go-scribe's file output (docs/SCRIBE.md §3): the tee in front of the backend when LOG_SERVICE_SCRIBE_DIR or _CONSOLE is set. */
function withScribe(config: Config, stream: LogStream, log: Logger): LogStream {
  const scribe = config.scribe;
  if (scribe === undefined) return stream;
  // Created now so a directory that cannot be made is a start-up error, not the first push's.
  if (scribe.dir !== undefined) mkdirSync(scribe.dir, { recursive: true });
  log.info({ dir: scribe.dir, maxBytes: scribe.maxBytes, console: scribe.console }, 'scribe: lines also go to files');
  return new ScribeTee(stream, {
    files: scribe.dir === undefined ? undefined : new ScribeFiles({ dir: scribe.dir, maxBytes: scribe.maxBytes }),
    maxLineBytes: config.stream.maxLineBytes,
    // Not process.stdout: on a pipe or terminal it writes synchronously (scribe/console-output.ts).
    console: scribe.console ? openConsoleOutput() : undefined,
    onConsoleError: (err) => log.warn({ err }, 'scribe: the console failed (its reader is gone?): lines go on to the stream and the files only'),
  });
}

async function createBlobStore(config: Config, log: Logger): Promise<BlobStore> {
  if (config.s3 !== undefined) {
    const { createS3BlobStore } = await import('../store/s3-blob-store.ts');
    log.info({ bucket: config.s3.bucket, endpoint: config.s3.endpoint }, 'blobs: s3');
    return createS3BlobStore(config.s3);
  }
  mkdirSync(dirname(config.lmdb.path), { recursive: true });
  log.info({ path: config.lmdb.path }, 'blobs: lmdb');
  return new LmdbBlobStore(config.lmdb.path);
}
