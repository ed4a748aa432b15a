// `log-service tailsrv`: the TCP server for files (docs/TAILSRV.md). Two forms:
//  * --dir DIR: the multi-file grammar (`list`, `stream <path> from …`), bad
//    input answered with one `error: <reason>` line and a close;
//  * FILE: tailsrv's single-file header (a signed decimal); the server binds
//    before the file exists, serves it once it appears, and reports (through
//    `fileGone`) when it is deleted or moved, so the command can exit 0.
// Each connection: the bounded header (header-reader.ts), then a FileTail on
// the shared WatchedFile. Nothing here polls: an idle server only waits.
import { stat } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { endConnection, refuse } from './connection-end.ts';
import { FileRegistry, type FileLease } from './file-registry.ts';
import { FileTail, type TruncationReport } from './file-tail.ts';
import { HeaderError, parseSignedOffset, parseTailRequest, type TailStart } from './header-grammar.ts';
import { HEADER_LIMITS, HeaderReader, type HeaderLimits } from './header-reader.ts';
import { RefusedPath, ServedDirectory } from './served-directory.ts';

/** Paths per write of a `list` answer (each write waits for the socket to take the previous one). */
const LIST_BATCH = 1000;

export type FileSource = { kind: 'directory'; dir: string } | { kind: 'file'; file: string };

export interface FileServerOptions {
  source: FileSource;
  host: string;
  port: number;
  /** --linger-after-file-is-gone: clients of a deleted or moved file stay connected (and the single-file server runs on). */
  linger: boolean;
  log: Logger;
  /** The header bounds (4 KiB, 10 s); tests may shorten the time. */
  headerLimits?: HeaderLimits;
  /** Single-file form: how long the clients of a gone file get to take its last bytes before `fileGone` (default 60 s). */
  goneDrainMs?: number;
}

/** How long the clients of a gone file get to take its last bytes before the single-file server stops anyway. */
const GONE_DRAIN_MS = 60_000;

export interface RunningFileServer {
  port: number;
  /** Single-file form without linger: resolves when the file is gone and every client got its last byte (or the drain time passed). Never resolves otherwise. */
  fileGone: Promise<void>;
  /** Stops accepting, ends every connection cleanly (after `graceMs`, the ones still flushing are cut). */
  stop(graceMs?: number): Promise<void>;
}

export async function startFileServer(options: FileServerOptions): Promise<RunningFileServer> {
  const { source, log, linger } = options;
  const limits = options.headerLimits ?? HEADER_LIMITS;
  const connections = new Set<Socket>();
  const tails = new Set<FileTail>();
  let stopping = false;
  let signalGone = () => {};
  const fileGone = new Promise<void>((done) => (signalGone = done));

  let directory: ServedDirectory | undefined;
  let singlePath: string | undefined;
  let anchor: FileLease | undefined;
  let gone = false;
  const registry = new FileRegistry(linger, (path) => {
    if (path !== singlePath) return;
    log.info({ path }, 'the file is gone');
    if (linger) {
      // Lingering: the old file stays with its clients; new clients wait for the path to name a file again.
      const old = anchor;
      registry.acquire(path, 'await').then(
        (lease) => {
          anchor = lease;
          old?.release();
        },
        (err: unknown) => log.error({ err, path }, 'cannot wait for the file to appear again (its directory is gone?)'),
      );
      return;
    }
    gone = true;
    // A client that stopped reading must not keep the server up forever: after the drain time it is cut by stop().
    let timer: NodeJS.Timeout | undefined;
    const drained = new Promise<void>((done) => (timer = setTimeout(done, options.goneDrainMs ?? GONE_DRAIN_MS).unref()));
    void Promise.race([whenIdle(), drained]).then(() => {
      clearTimeout(timer);
      signalGone();
    });
  });

  if (source.kind === 'directory') {
    directory = await ServedDirectory.open(source.dir);
  } else {
    singlePath = resolve(source.file);
    const parent = await stat(dirname(singlePath)).catch(() => undefined);
    if (parent === undefined || !parent.isDirectory()) throw new Error(`the directory of ${source.file} does not exist`);
    const existing = await stat(singlePath).catch(() => undefined);
    if (existing !== undefined && !existing.isFile()) throw new Error(`${source.file} is not a regular file`);
    anchor = await registry.acquire(singlePath, 'await');
  }

  let noTailsLeft: (() => void) | undefined;
  /** Resolves once no client is left (each got the gone file's last byte). */
  function whenIdle(): Promise<void> {
    if (tails.size === 0) return Promise.resolve();
    return new Promise<void>((done) => (noTailsLeft = done));
  }

  async function follow(socket: Socket, lease: FileLease, start: TailStart, truncation: TruncationReport): Promise<void> {
    const tail = new FileTail(lease.file, socket, start, truncation);
    tails.add(tail);
    try {
      await tail.run();
    } finally {
      tails.delete(tail);
      lease.release();
      if (tails.size === 0) noTailsLeft?.();
    }
  }

  async function serveDirectory(socket: Socket, header: string): Promise<void> {
    const request = parseTailRequest(header);
    if (request.kind === 'list') {
      const paths = await directory!.list();
      for (let i = 0; i < paths.length && !socket.destroyed; i += LIST_BATCH) {
        const text = paths
          .slice(i, i + LIST_BATCH)
          .map((p) => `${p}\n`)
          .join('');
        if (!socket.write(text)) await new Promise<void>((done) => (socket.once('drain', done), socket.once('close', done)));
      }
      endConnection(socket);
      return;
    }
    const real = await directory!.resolve(request.path);
    let lease: FileLease;
    try {
      lease = await registry.acquire(real, 'open');
    } catch (err) {
      // Gone since it was resolved: no such file. Anything else (no permission, no file
      // descriptors or inotify watches left) is said as it is, not as a missing file.
      const code = (err as NodeJS.ErrnoException).code;
      throw new RefusedPath(code === 'ENOENT' || code === undefined ? `no such file: ${request.path}` : `cannot open ${request.path} (${code})`);
    }
    await follow(socket, lease, request.start, 'error-line');
  }

  async function serveFile(socket: Socket, header: string): Promise<void> {
    let start: TailStart;
    try {
      start = parseSignedOffset(header);
    } catch {
      // tailsrv's single-file form has no error line: a bad header is a close.
      endConnection(socket);
      return;
    }
    if (gone || anchor === undefined) {
      endConnection(socket);
      return;
    }
    const lease = await registry.acquire(singlePath!, 'await');
    await follow(socket, lease, start, 'close');
  }

  async function handle(socket: Socket): Promise<void> {
    const reader = new HeaderReader(socket, limits);
    try {
      let header: string;
      try {
        header = await reader.nextLine();
      } finally {
        reader.finish();
      }
      if (stopping) {
        endConnection(socket);
        return;
      }
      if (directory !== undefined) await serveDirectory(socket, header);
      else await serveFile(socket, header);
    } catch (err) {
      if (err instanceof HeaderError || err instanceof RefusedPath) {
        if (directory !== undefined) refuse(socket, err.message);
        else endConnection(socket);
        return;
      }
      log.warn({ err }, 'tailsrv connection failed');
      if (directory !== undefined) refuse(socket, `cannot serve this request (${(err as NodeJS.ErrnoException).code ?? 'internal error'})`);
      else endConnection(socket);
    }
  }

  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
    // A client that vanished without a word is found by its next write or by keep-alive probes.
    socket.on('error', () => {});
    socket.setKeepAlive(true, 60_000);
    if (stopping) {
      socket.destroy();
      return;
    }
    void handle(socket);
  });
  await new Promise<void>((done, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      done();
    });
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ host: options.host, port, source }, 'tailsrv listening');

  let stopped: Promise<void> | undefined;
  const stop = (graceMs = 5000) => {
    stopped ??= (async () => {
      stopping = true;
      const closed = new Promise<void>((done) => server.close(() => done()));
      for (const tail of tails) tail.stop();
      for (const socket of connections) endConnection(socket);
      // A client that stopped reading never takes its last bytes: it is cut after the grace period.
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((done) => (timer = setTimeout(done, graceMs)));
      await Promise.race([closed, grace]);
      clearTimeout(timer);
      for (const socket of connections) socket.destroy();
      await closed;
      anchor?.release();
      await registry.closeAll();
    })();
    return stopped;
  };
  return { port, fileGone, stop };
}
