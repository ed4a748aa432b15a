// The client's tail against the real server: a quiet stream cut at every
// connection lifetime keeps being followed, and a resume into a key that was
// closed and reopened follows the new stream instead of skipping it.
import assert from 'node:assert/strict';
import { LogServiceClient, type TailEvent } from '../client/index.ts';
import { startTestServer, type TestServer } from './support/in-process-server.ts';

async function collect(events: AsyncIterable<TailEvent>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of events) out.push(e.type === 'line' ? `${e.seq}:${e.line.out.trimEnd()}` : `dropped ${e.from}-${e.to}`);
  return out;
}

describe('client tail on the real server', function () {
  this.timeout(30_000);
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      LOG_SERVICE_TAIL_MAX_SECONDS: '1', LOG_SERVICE_PING_INTERVAL_SECONDS: '0.2', LOG_SERVICE_STREAM_CLOSED_GRACE_SECONDS: '30',
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
    assert.deepEqual(await seen, ['0:b0', '1:b1', '2:b2']);
  });
});
