// A batch written as several pieces in one go (handler/tail/sink.ts, writePieces)
// over a real node:http response and a real socket: the bytes arrive whole and
// in order, a reader that keeps up never waits for a 'drain' that will not come,
// and a reader that stops reading makes the writer wait (the socket is corked,
// not the response: a corked response answers by its own buffer alone).
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { WritableSink } from '../handler/tail/sink.ts';
import { within } from './support/bounded-wait.ts';

const NEVER = new AbortController().signal;
/** Longer than any wait a test here allows: a write that waits for it has hung. */
const STALL = { stallMs: () => 20_000 };

/** A server whose one response is handed to `serve`; resolves with its port. */
function serveOnce(serve: (res: http.ServerResponse) => Promise<void>): Promise<{ port: number; close(): void }> {
  return new Promise((resolve) => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.flushHeaders();
      void serve(res);
    });
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        close: () => server.close(),
      }),
    );
  });
}

describe('a tail sink writing a batch in pieces', () => {
  it('sends the pieces whole and in order after earlier writes, and a reader that keeps up never waits', async () => {
    const pieces = [0, 1, 2, 3].map((i) => Buffer.alloc(40 * 1024, 97 + i));
    let waited: string | undefined;
    const server = await serveOnce(async (res) => {
      const sink = new WritableSink(res, NEVER, STALL);
      void sink.write('preamble\n');
      // Written in a later turn, as a live tail's batch is: 160 KiB, far over every high-water mark.
      await new Promise((resolve) => setImmediate(resolve));
      waited = await within(
        sink.writePieces(pieces).then(() => 'written'),
        5000,
        'still waiting for a drain',
      );
      await sink.writePieces([Buffer.from('x\n'), Buffer.from('y\n')]);
      sink.end();
    });
    try {
      const body = await new Promise<Buffer>((resolve, reject) => {
        http.get({ port: server.port, host: '127.0.0.1' }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (d: Buffer) => parts.push(d));
          res.on('end', () => resolve(Buffer.concat(parts)));
          res.on('error', reject);
        });
      });
      assert.equal(waited, 'written');
      assert.ok(body.equals(Buffer.concat([Buffer.from('preamble\n'), ...pieces, Buffer.from('x\ny\n')])), 'the body is every piece, in order');
    } finally {
      server.close();
    }
  });

  it('makes the writer wait once a reader stops reading, with a bounded amount queued', async () => {
    let batches = 0;
    let queued = 0;
    let client: net.Socket | undefined;
    const server = await serveOnce(async (res) => {
      const sink = new WritableSink(res, NEVER, STALL);
      for (batches = 0; batches < 100_000; batches++) {
        const write = sink.writePieces([Buffer.alloc(1024, 97), Buffer.alloc(1024, 98)]);
        queued = Math.max(queued, res.socket?.writableLength ?? 0);
        if (
          (await within(
            write.then(() => 'written'),
            50,
            'waiting',
          )) === 'waiting'
        )
          break;
      }
      res.destroy();
      client?.destroy();
    });
    try {
      client = net.connect(server.port, '127.0.0.1', () => {
        client!.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
        client!.pause();
      });
      client.on('error', () => {});
      await new Promise((resolve) => client!.on('close', resolve));
      assert.ok(batches < 100_000, 'the writer never waited for a reader that reads nothing');
      // What the kernel's buffers took, then at most a high-water mark (Node's: 16 KiB, 64 KiB from Node 22) queued in the process.
      assert.ok(queued <= 64 * 1024 + 2048, `${queued} bytes queued in the process before the writer waited`);
    } finally {
      server.close();
    }
  });
});
