// The client's push batching against a slow server (issue: typed client).
import assert from 'node:assert/strict';
import { LineBatcher } from '../client/line-batcher.ts';

describe('LineBatcher', () => {
  it('gathers lines into fewer, bigger batches while a slow send is in flight, keeping order and every line', async () => {
    const sent: string[][] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const batcher = new LineBatcher(async (body) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 150)); // a slow server
      sent.push(body.toString().trimEnd().split('\n').map((l) => (JSON.parse(l) as { out: string }).out));
      inFlight--;
    }, { maxLines: 1000, maxBytes: 1 << 20, intervalMs: 10 });
    for (let i = 0; i < 200; i++) {
      await batcher.add({ out: `${i}\n` });
      await new Promise((r) => setTimeout(r, 3));
    }
    const { lines, requests } = await batcher.finish();
    assert.equal(lines, 200);
    assert.deepEqual(sent.flat(), Array.from({ length: 200 }, (_, i) => `${i}\n`));
    assert.equal(maxInFlight, 1, 'one request at a time');
    // ~1 s of producing at 150 ms per request: about 7 requests, not one per 10 ms interval.
    assert.ok(requests <= 12, `${requests} requests`);
  });

  it('still sends a quiet producer\'s lines within the interval', async () => {
    const times: number[] = [];
    const batcher = new LineBatcher(async () => { times.push(Date.now()); }, { maxLines: 1000, maxBytes: 1 << 20, intervalMs: 20 });
    const start = Date.now();
    await batcher.add({ out: 'one\n' });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(times.length, 1, 'sent on its own, before finish');
    assert.ok(times[0]! - start < 90);
    await batcher.finish();
  });
});
