// A tiny TCP proxy for tests: forwards a loopback port to a target port and can
// cut every open connection at once — what a load balancer restart or a
// network blip looks like to a client (both sides see the socket reset) — or
// lose replies: the request reaches the target, which acts on it, and the
// connection is reset when its answer comes, before any of it is forwarded.
import { createServer, connect, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  url: string;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Destroys every open connection (both directions); the proxy keeps accepting new ones. */
  cutAll(): void;
  /**
   * The next `count` answers (the target's first bytes after a request, on any connection) are
   * not forwarded: that connection is reset instead, after the target got the whole request.
   */
  loseReplies(count?: number): void;
  /** Answers lost so far. */
  readonly repliesLost: number;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let accepted = 0;
  let toLose = 0;
  let lost = 0;
  const server = createServer((client) => {
    accepted++;
    const upstream = connect(targetPort, targetHost);
    open.add(client);
    open.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (toLose > 0) {
        toLose--;
        lost++;
        client.resetAndDestroy();
        upstream.destroy();
        return;
      }
      if (!client.write(chunk)) {
        upstream.pause();
        client.once('drain', () => upstream.resume());
      }
    });
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    get connections() {
      return accepted;
    },
    get repliesLost() {
      return lost;
    },
    loseReplies(count = 1) {
      toLose += count;
    },
    cutAll() {
      for (const socket of open) socket.resetAndDestroy();
      open.clear();
    },
    close() {
      for (const socket of open) socket.destroy();
      open.clear();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
