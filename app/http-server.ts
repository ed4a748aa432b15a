// HTTP/HTTPS listener and graceful shutdown (docs/ARCHITECTURE.md §1, docs/SECURITY.md).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { errorBody } from '../handler/error-response.ts';
import { createRequestListener } from '../handler/request-listener.ts';
import type { Config } from '../foundation/config.ts';
import { ERRORS, type ErrorCode } from '../foundation/errors.ts';
import { ConnectionDrain } from './connection-drain.ts';
import type { GrpcListener } from './grpc-listener.ts';
import { startTailListener, type TailListener } from './tail-listener.ts';
import { createServices, type Services } from './services.ts';
import { isLoopback } from './loopback.ts';

export interface RunningServer {
  url: string;
  port: number;
  /** The gRPC listener's port (docs/GRPC.md), when LOG_SERVICE_GRPC_BIND is set. */
  grpcPort?: number;
  /** The tail port's port (docs/TAILSRV.md §6), when LOG_SERVICE_TAIL_BIND is set. */
  tailPort?: number;
  services: Services;
  /** Stops accepting, ends tails with their terminal event, closes backends. */
  stop(): Promise<void>;
}

export class StartupError extends Error {}

/** Requests node:http cannot parse still get the JSON error body of every route (docs/PROTOCOL.md §9.1). */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const [status, code, message]: [number, ErrorCode, string] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'LOGSVC_HEADERS_TOO_LARGE', ERRORS.LOGSVC_HEADERS_TOO_LARGE.message]
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'LOGSVC_REQUEST_TIMEOUT', ERRORS.LOGSVC_REQUEST_TIMEOUT.message]
        : [400, 'LOGSVC_BAD_REQUEST', `the request is not valid HTTP (${err.code ?? 'parse error'})`];
  const body = JSON.stringify(errorBody(code, message));
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nCache-Control: no-store\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** docs/SECURITY.md: without a token only a loopback bind is allowed, unless auth is disabled on purpose. */
function checkAuthPolicy(config: Config, log: Logger): void {
  if (config.auth.globalToken !== undefined && !config.auth.disabled) {
    log.info('auth: on (global token set)');
    return;
  }
  if (config.auth.disabled) {
    log.warn('auth: OFF (LOG_SERVICE_DISABLE_AUTH=true): anyone who can reach this port can read and write every log');
    return;
  }
  if (!isLoopback(config.http.host)) {
    throw new StartupError(
      `refusing to listen on ${config.http.host}:${config.http.port} without a token: set LOG_SERVICE_GLOBAL_TOKEN ` +
        '(and LOG_SERVICE_SECRET for account tokens), bind to 127.0.0.1, or set LOG_SERVICE_DISABLE_AUTH=true explicitly',
    );
  }
  log.warn('auth: off in development mode (no LOG_SERVICE_GLOBAL_TOKEN; listening on loopback only)');
}

export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  checkAuthPolicy(config, log);
  const services = await createServices(config, log);
  // Kept-alive connections are closed, not answered, once the server stops (connection-drain.ts).
  const drain = new ConnectionDrain(log);
  const listener = drain.wrap(createRequestListener(services.context));
  const options: http.ServerOptions = {
    // A missing Host is answered by the listener, with the JSON error body.
    requireHostHeader: false,
    maxHeaderSize: config.http.maxHeaderBytes,
    // Slow-client protection for headers and whole requests; streaming routes
    // (tails, uploads) are exempted per request where needed.
    headersTimeout: Math.min(config.http.requestTimeoutSeconds, 60) * 1000,
    requestTimeout: 0,
    // Node checks headersTimeout only this often (default 30 s), so without it a
    // 2 s header timeout would fire up to 30 s late. The timeout is at least 1 s.
    connectionsCheckingInterval: 1000,
    keepAliveTimeout: 65_000,
  };
  const server = config.tls
    ? https.createServer(
        {
          ...options,
          cert: readFileSync(config.tls.certFile),
          key: readFileSync(config.tls.keyFile),
          ...(config.tls.caFile !== undefined ? { ca: readFileSync(config.tls.caFile), requestCert: true, rejectUnauthorized: true } : {}),
        },
        listener,
      )
    : http.createServer(options, listener);

  // Stalled clients: a socket idle this long is closed (tails opt out per
  // request). Twice the body timeout, so a slow push still gets its 408.
  server.timeout = config.http.requestTimeoutSeconds * 2000;
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => answerClientError(err, socket));
  // The gRPC and tail ports are bound before the HTTP one, so that once /healthz answers every port does.
  let grpc: GrpcListener | undefined;
  if (config.grpc !== undefined) {
    try {
      // Loaded only when configured: grpc-js and protobufjs cost start-up time and ~14 MB of memory.
      const { startGrpcListener } = await import('./grpc-listener.ts');
      grpc = await startGrpcListener(config, services.context, log);
    } catch (err) {
      // Nothing half-started is left behind: the backends close too.
      await services.close();
      throw new StartupError(`gRPC listener on ${config.grpc.host}:${config.grpc.port}: ${(err as Error).message}`);
    }
  }
  let tail: TailListener | undefined;
  if (config.tail !== undefined) {
    try {
      tail = await startTailListener(config, services.context, log);
    } catch (err) {
      await grpc?.stop(0);
      await services.close();
      throw new StartupError(`tail port on ${config.tail.host}:${config.tail.port}: ${(err as Error).message}`);
    }
  }

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.http.port, config.http.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await grpc?.stop(0);
    await tail?.stop(0);
    await services.close();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  const scheme = config.tls ? 'https' : 'http';
  const host = config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;
  const url = `${scheme}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  log.info({ url, tls: config.tls ? (config.tls.caFile ? 'mutual' : 'on') : 'off' }, 'listening');
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      log.info('shutting down');
      services.beginShutdown();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Idle connections close now, the others after their response: viewers reconnect elsewhere.
      drain.begin(server);
      // Ending the streams ends every tail with its terminal event.
      await services.context.stream.shutdown();
      // gRPC tails ended with the streams (UNAVAILABLE: resume elsewhere); Push calls get the grace period.
      const grpcStopped = grpc?.stop(config.shutdownGraceSeconds * 1000);
      // TCP tails ended with the streams too; connections still in their header get an error line.
      const tailStopped = tail?.stop(config.shutdownGraceSeconds * 1000);
      const grace = new Promise<void>((resolve) => setTimeout(resolve, config.shutdownGraceSeconds * 1000).unref());
      await Promise.race([closed, grace]);
      server.closeAllConnections();
      await grpcStopped;
      await tailStopped;
      await services.close();
      log.info('stopped');
    })();
    return stopping;
  };
  return { url, port, grpcPort: grpc?.port, tailPort: tail?.port, services, stop };
}
