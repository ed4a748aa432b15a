// A tailsrv client for tests, the way `nc` is one: connect, send the header,
// collect every byte, and know when the server closed. Waits are bounded and
// fail with what was received so far.
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';
import { within } from './bounded-wait.ts';

export interface TailClient {
  socket: Socket;
  /** Every byte received so far. */
  bytes(): Buffer;
  text(): string;
  /** Resolves once the received bytes satisfy `test` (rejects after `ms`). */
  until(test: (text: string, bytes: Buffer) => boolean, ms?: number): Promise<void>;
  /** Resolves once the server closed the connection (rejects after `ms`). */
  ended(ms?: number): Promise<void>;
  /** Whether the server closed the connection. */
  readonly isEnded: boolean;
  close(): void;
}

export interface TailClientOptions {
  host?: string;
  /** TLS options: connects with TLS when set. */
  tls?: ConnectionOptions;
  /** Pause reading right away (a client that never reads). */
  paused?: boolean;
}

export async function openTail(port: number, header: string | Buffer | undefined, options: TailClientOptions = {}): Promise<TailClient> {
  const host = options.host ?? '127.0.0.1';
  const socket: Socket = options.tls ? connectTls({ host, port, servername: 'localhost', ...options.tls }) : connectTcp({ host, port, allowHalfOpen: true });
  const chunks: Buffer[] = [];
  let size = 0;
  let ended = false;
  const waiters = new Set<() => void>();
  const poke = () => {
    for (const w of [...waiters]) w();
  };
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.length;
    poke();
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    ended = true;
    poke();
  });
  socket.on('end', () => {
    ended = true;
    poke();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once(options.tls ? 'secureConnect' : 'connect', () => resolve());
    socket.once('error', reject);
    socket.once('close', () => resolve());
  });
  if (options.paused) socket.pause();
  if (header !== undefined) socket.write(header);
  const bytes = () => {
    if (chunks.length > 1) chunks.splice(0, chunks.length, Buffer.concat(chunks, size));
    return chunks[0] ?? Buffer.alloc(0);
  };
  const waitFor = async (test: () => boolean, ms: number, what: string) => {
    if (test()) return;
    let wake: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      wake = () => {
        if (test()) resolve();
      };
    });
    waiters.add(wake);
    try {
      const ok = await within(
        done.then(() => true),
        ms,
        false,
      );
      if (!ok) throw new Error(`${what} within ${ms} ms; received ${size} bytes: ${JSON.stringify(bytes().subarray(-300).toString('utf8'))}`);
    } finally {
      waiters.delete(wake);
    }
  };
  return {
    socket,
    bytes,
    text: () => bytes().toString('utf8'),
    until: (test, ms = 10_000) => waitFor(() => test(bytes().toString('utf8'), bytes()), ms, 'the expected bytes did not arrive'),
    ended: (ms = 10_000) => waitFor(() => ended, ms, 'the server did not close the connection'),
    get isEnded() {
      return ended;
    },
    close: () => socket.destroy(),
  };
}
