// `log-service livelog`: taskcluster livelog's two ports on the log service
// (docs/LIVELOG.md). One process holds one log: the PUT port takes one long
// `PUT /log` whose bytes are appended to a stream as they arrive
// (handler/body-appender.ts); the GET port serves `/log/<ACCESS_TOKEN>` as a
// raw tail of that stream from byte 0 — history from the archive, then live
// bytes, then the end when the PUT ends. Readers read at their own pace from
// the kept bytes (the archive in the blob store): none is dropped, and none
// slows the producer or another reader.
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../foundation/config.ts';
import { appendBody, BodyAborted } from '../handler/body-appender.ts';
import { isAccountId, validateKey } from '../handler/keys.ts';
import { legacyRange } from '../handler/livelog-range.ts';
import { rawRange, type RawRange } from '../handler/raw-range.ts';
import { locateText, serveText, type TextSource } from '../handler/raw-tail.ts';
import { closeStream } from '../handler/stream-handlers.ts';
import type { RawResponseOptions } from '../handler/tail/raw-writer.ts';
import { isServiceError } from '../foundation/errors.ts';
import { ConnectionDrain } from './connection-drain.ts';
import { createServices } from './services.ts';

export interface LivelogOptions {
  accessToken: string;
  putPort: number;
  getPort: number;
  /** Where the PUT port listens (undefined: every interface, as livelog). */
  putHost?: string;
  /** Where the GET port listens (undefined: every interface). */
  getHost?: string;
  /** HTTPS on the GET port. */
  tls?: { certFile: string; keyFile: string };
  rangeMode: 'rfc9110' | 'legacy';
  /** The internal stream name (`<account>/<key>`): the finished log is stored under it. */
  name: string;
  /** The key part of `name`, for messages. */
  key: string;
}

export interface RunningLivelog {
  putPort: number;
  getPort: number;
  stop(): Promise<void>;
}

/** Where the one log is: before its PUT, receiving it, done, or cut off by its producer. */
type LogState = 'waiting' | 'receiving' | 'finished' | 'aborted';

/** livelog's answers, byte for byte (text bodies, no JSON). */
const ONLY_PUT = 'This endpoint can only handle PUT requests';
const ONE_PUT = 'This endpoint can only process one http PUT at a time';
const FINISHED = 'This log is finished: a livelog process takes one PUT; start another livelog for another log';
const DENIED = 'Access denied';
const GO_NOT_FOUND = '404 page not found\n';

const READER_HEADERS = {
  'Content-Type': 'text/plain; charset=utf-8',
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'Transfer-Encoding',
};

/** What is wrong with LIVELOG_ARCHIVE_ACCOUNT / LIVELOG_ARCHIVE_KEY, if anything (the main server's key rules). */
export function archiveTargetProblem(account: string, key: string): string | undefined {
  try {
    validateKey(key);
  } catch (err) {
    return `LIVELOG_ARCHIVE_KEY: ${(err as Error).message}`;
  }
  if (!isAccountId(account)) return 'LIVELOG_ARCHIVE_ACCOUNT must be 1-128 characters of A-Z a-z 0-9 . _ : -';
  return undefined;
}

export async function startLivelog(options: LivelogOptions, config: Config, log: Logger): Promise<RunningLivelog> {
  const tls = options.tls === undefined ? undefined : { cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) };
  const services = await createServices(config, log);
  const ctx = services.context;
  const { name, key } = options;
  // The stream exists before the PUT, so a reader that comes first waits for the producer.
  await ctx.stream.open(name, { ttlSeconds: config.limits.tailMaxSeconds });
  let state: LogState = 'waiting';
  const token = Buffer.from(options.accessToken);

  const putDrain = new ConnectionDrain(log);
  const putServer = http.createServer(
    { requestTimeout: 0 },
    putDrain.wrap((req, res) => {
      void receive(req, res).catch((err: unknown) => {
        log.error({ err }, 'livelog: the PUT failed');
        if (!res.headersSent) plain(res, 500, 'Could not store the log');
        else res.destroy();
      });
    }),
  );
  // A producer may be quiet for a long time between bytes.
  putServer.timeout = 0;

  async function receive(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (pathOf(req.url) !== '/log') return plain(res, 404, GO_NOT_FOUND);
    if (req.method !== 'PUT') return plain(res, 400, ONLY_PUT);
    if (state === 'receiving') return plain(res, 400, ONE_PUT);
    if (state !== 'waiting') return plain(res, 409, FINISHED);
    state = 'receiving';
    log.info("livelog: the producer's PUT began");
    let length: number;
    try {
      length = await appendBody(ctx.stream, name, req, config.stream.maxLineBytes);
    } catch (err) {
      if (!(err instanceof BodyAborted)) throw err;
      // Readers' responses end without their terminator: a visible truncation, never a clean end.
      state = 'aborted';
      log.warn({ bytes: err.length }, 'livelog: the producer went away before the end of its PUT; readers see the log cut off');
      await finish();
      return;
    }
    state = 'finished';
    await finish();
    log.info({ bytes: length }, 'livelog: the log is complete');
    res.writeHead(201, { 'Content-Length': '0' });
    res.end();
  }

  /** Closes the stream (its held partial line becomes the last line) and stores the finished log. */
  async function finish(): Promise<void> {
    try {
      await closeStream(ctx, name, true);
    } catch (err) {
      // The readers still end (the stream is closed); the stored copy is what failed.
      if (!isServiceError(err)) throw err;
      log.error({ err }, 'livelog: the finished log could not be stored');
    }
  }

  const getDrain = new ConnectionDrain(log);
  const onGet = getDrain.wrap((req, res) => {
    void serve(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        const status = isServiceError(err) ? err.status : 500;
        plain(res, status, isServiceError(err) ? err.message : 'internal error', READER_HEADERS);
      } else res.destroy();
      if (!isServiceError(err)) log.error({ err }, 'livelog: a reader failed');
    });
  });
  const getServer = tls === undefined ? http.createServer({ requestTimeout: 0 }, onGet) : https.createServer({ ...tls, requestTimeout: 0 }, onGet);

  async function serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<unknown> {
    const url = req.url ?? '/';
    if (!url.startsWith('/log/')) return plain(res, 404, GO_NOT_FOUND);
    // livelog compared everything after "/log/" with the token: another segment or a query is denied.
    const given = Buffer.from(url.slice('/log/'.length));
    if (given.length !== token.length || !timingSafeEqual(given, token))
      return plain(res, 401, DENIED, { 'Content-Type': READER_HEADERS['Content-Type'], 'Access-Control-Allow-Origin': '*' });
    const source = await locateText(ctx, name, key, true);
    const plan = readerPlan(req.headers.range, source);
    if ('error' in plan) return plain(res, 416, plan.error, plan.headers);
    if (req.method === 'HEAD') {
      res.writeHead(plan.options.status ?? 200, { ...READER_HEADERS, ...plan.options.headers?.(plan.start) });
      res.end();
      return;
    }
    // Returned, not awaited: a following reader then holds the follow loop's state only (handler/tail/follow.ts).
    return serveText(ctx, { account: 'livelog', name, key }, req, res, source, plan.start, plan.options);
  }

  function readerPlan(
    header: string | undefined,
    source: TextSource,
  ): { start: number; options: RawResponseOptions } | { error: string; headers?: Record<string, string> } {
    // Any end but the log's own is a cut: its reader must not take it for the whole log.
    const truncated = () => state !== 'finished';
    if (options.rangeMode === 'legacy') {
      const range = legacyRange(header);
      if ('error' in range) return { error: range.error, headers: READER_HEADERS };
      const finished: Record<string, string> = source.live
        ? {}
        : { 'Content-Length': String(Math.max(0, Math.min(range.stopAt, source.length) - range.start)) };
      return { start: range.start, options: { stopAt: range.stopAt, truncated, headers: () => ({ ...READER_HEADERS, ...finished }) } };
    }
    let range: RawRange;
    try {
      range = rawRange(header, source.length, source.live, 0);
    } catch {
      return { error: `the range is outside the log (${source.length} bytes)`, headers: { ...READER_HEADERS, 'Content-Range': `bytes */${source.length}` } };
    }
    if (range.kind === 'follow') {
      const finished: Record<string, string> = source.live || range.offset !== 0 ? {} : { 'Content-Length': String(source.length) };
      return { start: range.offset, options: { truncated, headers: () => ({ ...READER_HEADERS, ...finished }) } };
    }
    const headers: Record<string, string> = { ...READER_HEADERS, 'Content-Range': range.contentRange };
    if (range.contentLength !== undefined) headers['Content-Length'] = String(range.contentLength);
    return { start: range.start, options: { status: 206, stopAt: range.stopAt, truncated, headers: () => headers } };
  }

  const putPort = await listen(putServer, options.putPort, options.putHost);
  const getPort = await listen(getServer, options.getPort, options.getHost);
  log.info({ putPort, getPort, tls: tls !== undefined, rangeMode: options.rangeMode }, 'livelog: listening');

  return {
    putPort,
    getPort,
    async stop() {
      services.beginShutdown();
      await Promise.all([stopServer(putServer, putDrain), stopServer(getServer, getDrain)]);
      await services.close();
    },
  };
}

/** Stops accepting, closes idle connections, and resolves once every connection is gone (tails end at the shutdown signal). */
function stopServer(server: http.Server | https.Server, drain: ConnectionDrain): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  drain.begin(server);
  return closed;
}

function pathOf(url: string | undefined): string {
  const q = (url ?? '/').indexOf('?');
  return q === -1 ? (url ?? '/') : url!.slice(0, q);
}

function plain(
  res: http.ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = { 'Content-Type': 'text/plain; charset=utf-8' },
): void {
  res.writeHead(status, { ...headers, 'Content-Length': String(Buffer.byteLength(body)) });
  res.end(body);
}

function listen(server: http.Server | https.Server, port: number, host: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
