// The tail port (docs/TAILSRV.md §6): log streams over tailsrv's multi-file
// grammar on LOG_SERVICE_TAIL_BIND, with the same TLS (and mutual TLS) as
// HTTP and the same tokens. Started and stopped by app/http-server.ts. Each
// connection is served by handler/tcp-tail/; this file owns the socket
// lifecycle: accept, bound the TLS handshake like the header, and on stop end
// every connection cleanly (a tail ends with its stream, through the shared
// shutdown signal; the rest are ended here) and cut what is still flushing
// after the grace period.
import { readFileSync } from 'node:fs';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Logger } from 'pino';
import type { Config } from '../foundation/config.ts';
import type { HandlerContext } from '../handler/context.ts';
import { serveStreamTail } from '../handler/tcp-tail/stream-tail-connection.ts';
import { refuse } from '../tailsrv/connection-end.ts';
import { HEADER_LIMITS, HEADER_TIMEOUT_MS } from '../tailsrv/header-reader.ts';
import { isLoopback } from './loopback.ts';

export interface TailListener {
  port: number;
  /** Stops accepting and ends every connection; the ones still flushing after `graceMs` are cut. */
  stop(graceMs: number): Promise<void>;
}

export async function startTailListener(config: Config, ctx: HandlerContext, log: Logger): Promise<TailListener> {
  const bind = config.tail!;
  // docs/SECURITY.md: the same rule as the HTTP port, without a token only loopback.
  if (!ctx.auth.enabled && !config.auth.disabled && !isLoopback(bind.host)) {
    throw new Error(
      'refusing to serve the tail port on a non-loopback address without a token (set LOG_SERVICE_GLOBAL_TOKEN or LOG_SERVICE_DISABLE_AUTH=true)',
    );
  }
  const connections = new Set<Socket>();
  /** Connections still sending their header: the shutdown answers them (a tail ends with its follow loop). */
  const inHeader = new Set<Socket>();
  let stopping = false;
  const accept = (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
    socket.on('error', () => {});
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    if (stopping) {
      socket.destroy();
      return;
    }
    inHeader.add(socket);
    void serveStreamTail(ctx, socket, HEADER_LIMITS, () => inHeader.delete(socket));
  };
  const tls = config.tls;
  const server: Server = tls
    ? createTlsServer(
        {
          allowHalfOpen: true,
          cert: readFileSync(tls.certFile),
          key: readFileSync(tls.keyFile),
          // The handshake is part of the header's time: a client that never finishes it is dropped as soon.
          handshakeTimeout: HEADER_TIMEOUT_MS,
          ...(tls.caFile !== undefined ? { ca: readFileSync(tls.caFile), requestCert: true, rejectUnauthorized: true } : {}),
        },
        accept,
      )
    : createTcpServer({ allowHalfOpen: true }, accept);
  // A failed handshake (no client certificate, a stranger's CA, or none within the handshake
  // timeout) costs a log line, not the process; with a listener here Node leaves closing the
  // socket to us, so a client that never sends a ClientHello would otherwise stay forever.
  server.on('tlsClientError', (err: Error, socket: Socket) => {
    log.debug({ err: err.message }, 'tail port: TLS handshake failed');
    socket.destroy();
  });
  // Every accepted TCP socket, handshake or not, so the shutdown can cut them all after its grace.
  const raw = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    raw.add(socket);
    socket.once('close', () => raw.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(bind.port, bind.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ host: bind.host, port, tls: tls ? (tls.caFile ? 'mutual' : 'on') : 'off' }, 'tail port listening');

  let stopped: Promise<void> | undefined;
  return {
    port,
    stop(graceMs) {
      stopped ??= (async () => {
        stopping = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // Tails end through the shutdown signal (their follow loop ends the connection); the rest end here.
        for (const socket of inHeader) refuse(socket, 'the server is shutting down');
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
        await Promise.race([closed, grace]);
        clearTimeout(timer);
        for (const socket of connections) socket.destroy();
        for (const socket of raw) socket.destroy();
        await closed;
      })();
      return stopped;
    },
  };
}
