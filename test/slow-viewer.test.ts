// A viewer that stops reading must not stall the producer or other viewers,
// nor grow the server's memory (docs/PROTOCOL.md §6). Measured on a real server process.
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, type ServerProcess } from './support/server-process.ts';
import { openSse } from './support/sse-reader.ts';
import { rssAnonMb } from './support/process-memory.ts';

describe('slow viewers', function () {
  this.timeout(60000);
  let server: ServerProcess;
  before(async () => {
    server = await startServer({ LOG_SERVICE_STREAM_MAX_LINES: '500' });
  });
  after(async () => server.stop());

  it('keeps the producer and a healthy viewer at full speed while 5 viewers stop reading, with bounded server memory', async () => {
    const url = `${server.url}/stream?accountID=acct&key=slow/1`;
    assert.equal((await fetch(url, { method: 'POST' })).status, 204);
    const stuck = Array.from({ length: 5 }, () => {
      const req = http.get(url);
      req.on('response', (res) => res.pause()); // never reads: the server's writes back up
      req.on('error', () => {});
      return req;
    });
    const healthy = await openSse(url);
    await new Promise((r) => setTimeout(r, 200));
    // Anonymous memory: the live archive writes the 100 MB into LMDB's memory map, file-backed pages the kernel reclaims.
    const before = rssAnonMb(server.process.pid!);
    const big = 'z'.repeat(4000);
    // 250 pushes × 100 lines × 4 KB = 100 MB through a stream whose ring keeps 500 lines (2 MB).
    for (let i = 0; i < 250; i++) {
      const body = JSON.stringify(Array.from({ length: 100 }, (_, j) => ({ out: `${i * 100 + j} ${big}\n` })));
      const r = await fetch(url, { method: 'PUT', body, headers: { 'Content-Type': 'application/json' } });
      assert.equal(r.status, 204);
    }
    await healthy
      .until(() => healthy.raw().includes('\nid: 24999\n') || healthy.raw().startsWith('id: 24999\n'), 30000)
      .catch(async () => {
        assert.ok(healthy.raw().includes('id: 24999\n'), 'the healthy viewer received the last line');
      });
    const grown = rssAnonMb(server.process.pid!) - before;
    // 5 stuck viewers that buffered the stream would hold 5 × 100 MB. The live archive writes the
    // 100 MB to LMDB meanwhile (chunk buffers, LMDB's write buffers, up to 4 MiB of unwritten
    // lines: docs/ARCHIVE.md §6), which took the bound from 80 to 120 MB.
    assert.ok(grown < 120, `server RssAnon grew by ${grown.toFixed(1)} MB`);
    assert.equal((await fetch(url, { method: 'DELETE' })).status, 204);
    await healthy.ended();
    for (const s of stuck) s.destroy();
  });
});
