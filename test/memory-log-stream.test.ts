import assert from 'node:assert/strict';
import { MemoryLogStream } from '../stream/memory-log-stream.ts';
import { logStreamContract } from './contract/log-stream.contract.ts';
import { startTestServer } from './support/in-process-server.ts';

logStreamContract('memory', async (limits) => {
  const stream = new MemoryLogStream(limits, { sweepIntervalMs: 100 });
  return { stream, cleanup: () => stream.shutdown() };
});

describe('memory streams: the cap on streams held at once', () => {
  const limits = { maxLines: 100, maxBytes: 1 << 20, ttlSeconds: 60, maxLineBytes: 1024, closedGraceSeconds: 60 };

  it('refuses a new stream beyond maxStreams with LOGSVC_TOO_MANY_STREAMS, counting closed ones still in their grace period', async () => {
    const stream = new MemoryLogStream(limits, { maxStreams: 2 });
    try {
      await stream.open('a/1');
      await stream.open('a/2');
      await stream.open('a/1'); // already open: started again, still one stream
      await assert.rejects(stream.open('a/3'), { code: 'LOGSVC_TOO_MANY_STREAMS', status: 429 });
      await stream.close('a/2');
      await assert.rejects(stream.open('a/3'), { code: 'LOGSVC_TOO_MANY_STREAMS' }, 'a closed stream still holds its lines');
      await stream.open('a/2'); // reopening a closed stream replaces it
      assert.equal(await stream.push('a/2', [{ out: 'again\n' }]), 0);
    } finally {
      await stream.shutdown();
    }
  });
});

describe('memory streams: a passing cursor', () => {
  const limits = { maxLines: 100_000, maxBytes: 1 << 30, ttlSeconds: 60, maxLineBytes: 1024, closedGraceSeconds: 60 };

  it('reads lines made for it alone, so that one reader after it passes once and leaves no line objects kept', async () => {
    const stream = new MemoryLogStream(limits);
    try {
      await stream.open('a/1');
      await stream.push(
        'a/1',
        Array.from({ length: 5000 }, (_, i) => ({ out: `line ${i}\n` })),
      );
      // A probe of the last line (ArchivedLogStream.cursorAtOffset with a negative offset).
      const probe = (await stream.cursor('a/1', { kind: 'tail', lines: 1 }, { passing: true }))!;
      assert.equal((await probe.read(1, 1 << 20)).lines[0]?.seq, 4999);
      probe.release();
      // One reader from seq 1000 to the end, batch by batch, then another over part of it with other bounds.
      const seen = new Map<number, object>();
      const first = (await stream.cursor('a/1', { kind: 'after', seq: 999 }))!;
      for (let batch = await first.read(2000, 1 << 30); batch.lines.length > 0; batch = await first.read(2000, 1 << 30)) {
        for (const line of batch.lines) seen.set(line.seq, line);
      }
      first.release();
      assert.equal(seen.size, 4000);
      const second = (await stream.cursor('a/1', { kind: 'after', seq: 3999 }))!;
      const again = (await second.read(999, 1 << 30)).lines;
      second.release();
      assert.notEqual(again[0], seen.get(4000), 'the first pass kept no line objects (the probe did not count as a read)');
      // Read a second time, the lines are kept: a third reader (other bounds, so no shared slice) gets the same objects.
      const third = (await stream.cursor('a/1', { kind: 'after', seq: 3999 }))!;
      const kept = (await third.read(10, 1 << 30)).lines;
      third.release();
      assert.equal(kept[0], again[0], 'lines read twice are kept for the readers after');
    } finally {
      await stream.shutdown();
    }
  });
});

describe('memory streams over HTTP: LOG_SERVICE_MAX_STREAMS', () => {
  it('answers 429 LOGSVC_TOO_MANY_STREAMS with a JSON error on open, and opens again once a stream has left', async () => {
    const server = await startTestServer({ LOG_SERVICE_MAX_STREAMS: '1', LOG_SERVICE_STREAM_CLOSED_GRACE_SECONDS: '0' });
    try {
      assert.equal((await fetch(`${server.url}/ci/p/1/s/a/stream`, { method: 'POST' })).status, 204);
      const refused = await fetch(`${server.url}/ci/p/1/s/b/stream`, { method: 'POST' });
      assert.equal(refused.status, 429);
      const body = (await refused.json()) as { error_code: string; error_msg: string };
      assert.equal(body.error_code, 'LOGSVC_TOO_MANY_STREAMS');
      assert.match(body.error_msg, /LOG_SERVICE_MAX_STREAMS/);
      assert.equal((await fetch(`${server.url}/ci/p/1/s/a/stream`, { method: 'DELETE' })).status, 204);
      // The sweeper (every second) drops the closed stream after its 0 s grace: poll, bounded.
      let status = 0;
      for (const deadline = Date.now() + 10_000; status !== 204 && Date.now() < deadline;) {
        await new Promise((r) => setTimeout(r, 200));
        status = (await fetch(`${server.url}/ci/p/1/s/b/stream`, { method: 'POST' })).status;
      }
      assert.equal(status, 204, 'a slot is free once the closed stream has left');
    } finally {
      await server.destroy();
    }
  });
});
