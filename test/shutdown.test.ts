// Graceful shutdown (issue: core service): on SIGTERM the server stops
// accepting, ends open tails with their terminal event, closes LMDB and exits 0.
import assert from 'node:assert/strict';
import { startServer } from './support/server-process.ts';
import { lineEvents, openSse } from './support/sse-reader.ts';

describe('graceful shutdown', function () {
  this.timeout(60000);

  it('ends open tails with their terminal event on SIGTERM, exits 0, and keeps stored blobs for the next start', async () => {
    const server = await startServer({ LOG_SERVICE_LOG_LEVEL: 'info' });
    try {
      await fetch(`${server.url}/ci/p/1/s/t/stream`, { method: 'POST' });
      await fetch(`${server.url}/ci/p/1/s/t/stream`, { method: 'PUT', body: 'before shutdown\n', headers: { 'Content-Type': 'text/plain' } });
      await fetch(`${server.url}/ci/p/1/s/t/blob`, { method: 'PUT', body: 'kept' });
      const ci = await openSse(`${server.url}/ci/p/1/s/t/stream`);
      const harness = await openSse(`${server.url}/stream?accountID=default&key=p/1/s/t`);
      await ci.until((evs) => lineEvents(evs).length === 1);
      server.kill('SIGTERM');
      await Promise.all([ci.ended(10000), harness.ended(10000)]);
      assert.ok(ci.raw().endsWith('event: eof\ndata: eof\n\n'), ci.raw().slice(-60));
      assert.ok(harness.raw().endsWith('event: error\ndata: eof\n\n'), harness.raw().slice(-60));
      await server.exited();
      assert.equal(server.process.exitCode, 0, server.output());
      assert.match(server.output(), /"msg":"stopped"/);
      await server.restart();
      assert.equal(await (await fetch(`${server.url}/ci/p/1/s/t/blob`)).text(), 'kept');
    } finally {
      await server.stop();
    }
  });
});
