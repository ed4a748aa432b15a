// The client's tail against the real server: a quiet stream cut at every
// connection lifetime keeps being followed, and a resume into a key that was
// closed and reopened follows the new stream instead of skipping it.
import assert from 'node:assert/strict';
import { LogServiceClient } from '../client/index.ts';
import { startTestServer, type TestServer } from './support/in-process-server.ts';
import { openSse } from './support/sse-reader.ts';
import { collectTail as collect } from './support/tail-events.ts';

describe('client tail on the real server', function () {
  this.timeout(30_000);
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      LOG_SERVICE_TAIL_MAX_SECONDS: '1',
      LOG_SERVICE_PING_INTERVAL_SECONDS: '0.2',
      LOG_SERVICE_STREAM_CLOSED_GRACE_SECONDS: '30',
    });
  });
  after(async () => server?.destroy());

  it('keeps following a quiet stream through lifetime cuts longer than its give-up window', async () => {
    const client = new LogServiceClient({ server: server.url, retryDelayMs: 20 });
    const stream = client.stream({ project: 'quiet', build: '1', stage: 's', step: 't' });
    await stream.open();
    await stream.push('first\n');
    // Give up after 1.5 s of failing; the server cuts every connection after 1 s.
    const seen = collect(stream.tail({ reconnectForMs: 1500 }));
    await new Promise((r) => setTimeout(r, 4500)); // four lifetimes with no line at all
    await stream.push('after the quiet\n');
    await stream.close();
    assert.deepEqual(await seen, ['0:first', '1:after the quiet']);
  });

  it('says "event: restart" on the wire when a Last-Event-ID is past the end of a reopened stream', async () => {
    const url = `${server.url}/ci/restart/1/s/t/stream`;
    await fetch(url, { method: 'POST' });
    await fetch(url, { method: 'PUT', headers: { 'Content-Type': 'text/plain' }, body: 'a0\na1\na2\n' });
    await fetch(url, { method: 'DELETE' });
    await fetch(url, { method: 'POST' });
    await fetch(url, { method: 'PUT', headers: { 'Content-Type': 'text/plain' }, body: 'b0\n' });
    const resumed = await openSse(url, { 'Last-Event-ID': '2' });
    await resumed.until(() => resumed.raw().includes('id: 0\n'));
    assert.match(resumed.raw(), /^retry: 3000\n: ping\n\nevent: restart\ndata: \{"from":0\}\n\nid: 0\ndata: \{[^\n]*"out":"b0\\n"/);
    const ordinary = await openSse(url, { 'Last-Event-ID': '0' });
    await fetch(url, { method: 'PUT', headers: { 'Content-Type': 'text/plain' }, body: 'b1\n' });
    await ordinary.until(() => ordinary.raw().includes('id: 1\n'));
    assert.doesNotMatch(ordinary.raw(), /restart/, 'a resume inside the stream is no restart (it would come before any line)');
    await fetch(url, { method: 'DELETE' });
    await resumed.ended();
    await ordinary.ended();
  });

  it('follows the new stream when a resume finds the key closed and reopened', async () => {
    const client = new LogServiceClient({ server: server.url });
    const stream = client.stream({ project: 'reopen', build: '1', stage: 's', step: 't' });
    await stream.open();
    await stream.push('a0\na1\na2\na3\na4\n');
    await stream.close();
    await stream.open();
    await stream.push('b0\nb1\nb2\n');
    const seen = collect(stream.tail({ from: 4 }));
    await new Promise((r) => setTimeout(r, 200));
    await stream.close();
    assert.deepEqual(await seen, ['restart at 0 after 4', '0:b0', '1:b1', '2:b2']);
  });
});
