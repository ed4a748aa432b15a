// Viewers that stop reading a finished log (served from its snapshot blob) or
// never read again: bounded server memory, and a stalled connection is dropped
// so it gives back its memory and its slot of the per-account tail limit
// (docs/PROTOCOL.md §6 slow viewers; README "Tailing"). Measured on a server process.
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, type ServerProcess } from './support/server-process.ts';
import { lineEvents, openSse } from './support/sse-reader.ts';
import { rssAnonMb } from './support/process-memory.ts';

/** A GET that reads the response headers and then never reads again. */
function stuckViewer(url: string): { request: http.ClientRequest; status: Promise<number> } {
  const request = http.get(url);
  const status = new Promise<number>((resolve) =>
    request.on('response', (res) => {
      res.pause();
      resolve(res.statusCode ?? 0);
    }),
  );
  request.on('error', () => {});
  return { request, status };
}

describe('stalled viewers', function () {
  this.timeout(90_000);
  let server: ServerProcess;
  before(async () => {
    server = await startServer({ LOG_SERVICE_TAIL_MAX_SECONDS: '3', LOG_SERVICE_MAX_TAILS_PER_ACCOUNT: '2', LOG_SERVICE_STREAM_CLOSED_GRACE_SECONDS: '0' });
  });
  after(async () => server?.stop());

  it('keeps server memory bounded while 10 viewers stop reading a log served from its blob', async () => {
    // 600 rows of 130 KB (cut to the 64 KiB line limit when served): batches by
    // row count alone would hold ~30 MB per stuck viewer.
    const row = (i: number) => `${JSON.stringify({ level: 'info', pos: i, out: `${i} ${'x'.repeat(130_000)}\n`, time: '2026-01-01T00:00:00Z' })}\n`;
    const body = Array.from({ length: 600 }, (_, i) => row(i)).join('');
    const blobUrl = (account: string) => `${server.url}/blob?accountID=${account}&key=finished/log`;
    const accounts = Array.from({ length: 5 }, (_, i) => `blobview${i}`); // 2 tails per account at most
    for (const account of accounts) {
      assert.equal((await fetch(blobUrl(account), { method: 'PUT', body, headers: { 'Content-Type': 'application/x-ndjson' } })).status, 204);
    }
    // The server's own memory: reading the blobs also maps LMDB pages (RssFile, page cache), ~45 MB here.
    const before = rssAnonMb(server.process.pid!);
    const stuck = accounts.flatMap((account) => [0, 1].map(() => stuckViewer(`${server.url}/stream?accountID=${account}&key=finished/log`)));
    assert.deepEqual(
      await Promise.all(stuck.map((s) => s.status)),
      stuck.map(() => 200),
    );
    await new Promise((r) => setTimeout(r, 1500)); // every viewer's first batch has been written and backed up
    const grown = rssAnonMb(server.process.pid!) - before;
    assert.ok(grown < 80, `server memory (RssAnon) grew by ${grown.toFixed(1)} MB for 10 stuck viewers`);
    for (const s of stuck) s.request.destroy();
  });

  it('drops a viewer whose socket takes nothing until its lifetime, giving back its tail slot', async () => {
    const url = `${server.url}/stream?accountID=stall&key=busy/1`;
    assert.equal((await fetch(url, { method: 'POST' })).status, 204);
    const big = 'y'.repeat(8000);
    const push = () =>
      fetch(url, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(Array.from({ length: 200 }, () => ({ out: `${big}\n` }))),
      });
    const stuck = [stuckViewer(url), stuckViewer(url)];
    await Promise.all(stuck.map((s) => s.status));
    for (let i = 0; i < 10; i++) assert.equal((await push()).status, 204); // 16 MB: far more than the sockets take
    assert.equal((await fetch(url)).status, 429, 'both tail slots of the account are held');
    // The server drops them (a paused client only notices when it reads again): the tails count goes to 0.
    const deadline = Date.now() + 15_000;
    for (;;) {
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      if (/^logsvc_tails_open 0$/m.test(metrics)) break;
      assert.ok(Date.now() < deadline, `the stalled tails were never dropped:\n${/^logsvc_tails_open .*$/m.exec(metrics)?.[0]}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const again = await openSse(url);
    await again.until(() => lineEvents(again.events()).length > 0, 10_000);
    assert.equal(again.status, 200, 'the slots are free again');
    await fetch(url, { method: 'DELETE' });
    await again.ended();
    for (const s of stuck) s.request.destroy();
  });

  it('sends a blob row holding a raw CR between JSON tokens as one well-formed event, and cuts an over-long out', async () => {
    const blob = `${server.url}/blob?accountID=cr&key=odd/log`;
    const long = JSON.stringify({ out: `${'L'.repeat(100_000)}\n` });
    assert.equal((await fetch(blob, { method: 'PUT', body: `{"out":"a\\n"}\n{"out":"b\\n"\r\r,"x":1}\n{"out":"c\\n"}\n${long}\n` })).status, 204);
    const tail = await openSse(`${server.url}/stream?accountID=cr&key=odd/log`);
    await tail.ended();
    const events = lineEvents(tail.events());
    assert.deepEqual(
      events.map((e) => e.id),
      ['0', '1', '2', '3'],
    );
    const served = events.map((e) => (JSON.parse(e.data!) as { out: string }).out);
    assert.deepEqual(served.slice(0, 3), ['a\n', 'b\n', 'c\n']);
    assert.ok(
      Buffer.byteLength(served[3]!) <= 64 * 1024 && served[3]!.endsWith('truncated]\n'),
      'an uploaded out over the line limit is cut like a pushed one',
    );
    assert.ok(!tail.raw().includes('\r'), 'no CR reaches the wire');
  });
});
