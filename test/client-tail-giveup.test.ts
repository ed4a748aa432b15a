// The client's tail gives up on answers that are not a working tail (issue: typed client).
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LogServiceClient, LogServiceError } from '../client/index.ts';

async function serve(handler: http.RequestListener): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let count = 0;
  const server = http.createServer((req, res) => {
    count++;
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => count,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const step = { project: 'p', build: '1', stage: 's', step: 't' };

describe('client close retried after its reply was lost', () => {
  it('counts a 404 on the retry as closed: the first attempt was applied', async () => {
    let deletes = 0;
    const server = await serve((req, res) => {
      if (req.method !== 'DELETE') {
        res.writeHead(405);
        res.end();
        return;
      }
      deletes++;
      if (deletes === 1) {
        req.socket.destroy();
        return;
      } // applied, reply lost
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end('{"error_msg":"no open stream","error_code":"LOGSVC_STREAM_NOT_FOUND"}');
    });
    try {
      await new LogServiceClient({ server: server.url, retryDelayMs: 10 }).stream(step).close();
      assert.equal(deletes, 2);
      // A first-attempt 404 is still an error: the stream really was not open.
      deletes = 1;
      await assert.rejects(new LogServiceClient({ server: server.url }).stream(step).close(), { code: 'LOGSVC_STREAM_NOT_FOUND' });
    } finally {
      await server.close();
    }
  });
});

describe('client tail giving up', function () {
  this.timeout(20000);

  it('stops with LOGSVC_NETWORK when every connection ends right after the SSE preamble', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.end('retry: 50\n: ping\n\n');
    });
    try {
      const started = Date.now();
      const tail = new LogServiceClient({ server: server.url }).stream(step).tail({ reconnectForMs: 500 });
      await assert.rejects(
        (async () => {
          for await (const _ of tail) {
            /* nothing arrives */
          }
        })(),
        (err: LogServiceError) => err.code === 'LOGSVC_NETWORK' && /keeps ending/.test(err.message),
      );
      assert.ok(Date.now() - started < 10000);
      assert.ok(server.requests() >= 2, 'it did try to reconnect');
    } finally {
      await server.close();
    }
  });

  it('reports a 200 that is not an event stream (a proxy page) as LOGSVC_BAD_RESPONSE at once', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<html>please log in</html>');
    });
    try {
      const tail = new LogServiceClient({ server: server.url }).stream(step).tail();
      await assert.rejects(
        (async () => {
          for await (const _ of tail) {
            /* nothing */
          }
        })(),
        (err: LogServiceError) => err.code === 'LOGSVC_BAD_RESPONSE' && /text\/html/.test(err.message),
      );
      assert.equal(server.requests(), 1);
    } finally {
      await server.close();
    }
  });
});
