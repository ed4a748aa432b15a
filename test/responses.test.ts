// The 204s of one turn of the event loop are written together once its I/O
// callbacks have run (handler/responses.ts noContent), over real sockets: each
// request still gets its own, in order on a pipelined connection; a response
// answered otherwise meanwhile is skipped (writing it again would throw), and
// one destroyed meanwhile keeps no other from its answer.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { noContent } from '../handler/responses.ts';

describe('204s written together (noContent)', () => {
  let server: http.Server;
  let port: number;
  /** Whether each answer had been written when noContent returned (it must not have been). */
  const writtenAtOnce: boolean[] = [];

  before(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        // Which request an answer is for: a header set before it, written with it.
        res.setHeader('X-Answer-To', req.url ?? '');
        noContent(res);
        writtenAtOnce.push(res.headersSent);
        // A response destroyed before the turn ends (its client gone): the others of the turn are still answered.
        if (req.url === '/gone') res.destroy();
        // Answered otherwise before the turn ends (an error answer): writing the 204 too would throw (ERR_HTTP_HEADERS_SENT).
        if (req.url === '/answered') {
          res.writeHead(500, { 'Content-Length': '0' });
          res.end();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('answers every request of several connections and pipelined requests in order, none written at once', async () => {
    // Three requests pipelined in one write on each of four connections.
    const answers = await Promise.all(
      Array.from({ length: 4 }, async (_, c) => {
        const socket = net.connect(port, '127.0.0.1');
        let got = '';
        socket.on('data', (chunk: Buffer) => (got += chunk.toString('latin1')));
        const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
        const request = (path: string, close = false) =>
          `PUT ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n${close ? 'Connection: close\r\n' : ''}\r\nab`;
        socket.write(request(`/${c}/1`) + request(`/${c}/2`) + request(`/${c}/3`, true));
        await ended;
        return got;
      }),
    );
    for (const [c, got] of answers.entries()) {
      assert.equal(got.match(/^HTTP\/1\.1 204 No Content\r\n/gm)?.length, 3, got);
      // Each answer to its own request, in the order they were sent.
      assert.deepEqual(
        got.match(/^X-Answer-To: .*$/gim)?.map((line) => line.split(': ')[1]!.trim()),
        [`/${c}/1`, `/${c}/2`, `/${c}/3`],
        got,
      );
    }
    assert.ok(writtenAtOnce.length >= 12 && writtenAtOnce.every((written) => !written));
  });

  it('skips an answer given otherwise before the turn ended (an error answer, a destroyed response), and answers the others', async () => {
    const gone = fetch(`http://127.0.0.1:${port}/gone`, { method: 'PUT', body: 'x' });
    const answered = fetch(`http://127.0.0.1:${port}/answered`, { method: 'PUT', body: 'x' });
    const kept = fetch(`http://127.0.0.1:${port}/kept`, { method: 'PUT', body: 'x' });
    await assert.rejects(gone);
    assert.equal((await answered).status, 500);
    assert.equal((await kept).status, 204);
    // The server is still up (a throw in the deferred write would have ended this process).
    assert.equal((await fetch(`http://127.0.0.1:${port}/again`, { method: 'PUT', body: 'x' })).status, 204);
  });
});
