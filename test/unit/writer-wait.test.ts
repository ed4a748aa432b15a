// The archive writer's wait (archive/writer-wait.ts) on a real memory stream's
// cursor: ended by a push, by its due time, or by the writer's end.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { WriterWait } from '../../archive/writer-wait.ts';
import { MemoryLogStream } from '../../stream/memory-log-stream.ts';

const LIMITS = { maxLines: 100, maxBytes: 1 << 20, maxLineBytes: 1024, ttlSeconds: 60, closedGraceSeconds: 60 };

async function openCursor(stream: MemoryLogStream) {
  await stream.open('s');
  const cursor = await stream.cursor('s', { kind: 'beginning' });
  assert.ok(cursor);
  return cursor;
}

describe('WriterWait (the archive writer waiting for lines)', () => {
  it('ends at its due time when nothing is pushed, and a push ends the next wait at once', async () => {
    const stream = new MemoryLogStream(LIMITS);
    const cursor = await openCursor(stream);
    const wait = new WriterWait();
    let started = performance.now();
    await cursor.waitForMore(wait.begin(60));
    const waited = performance.now() - started;
    assert.ok(waited >= 50 && waited < 1000, `waited ${waited} ms for a 60 ms due time`);
    assert.equal(wait.aborted, true);

    started = performance.now();
    const pending = cursor.waitForMore(wait.begin(5000));
    assert.equal(wait.aborted, false, 'a new wait starts un-ended');
    await stream.push('s', [{ out: 'a\n' }]);
    await pending;
    assert.ok(performance.now() - started < 1000, 'the push ended the wait, not the 5 s due time');
    cursor.release();
  });

  it('keeps one armed timer for many waits while it is due no later than asked', async () => {
    const wait = new WriterWait();
    wait.begin(80);
    const started = performance.now();
    // Asked again for later: the 80 ms timer stays and ends this wait.
    const ended = new Promise<void>((resolve) => wait.begin(10_000).addEventListener('abort', resolve));
    await ended;
    const waited = performance.now() - started;
    assert.ok(waited < 1000, `the earlier timer ended the wait (after ${waited} ms)`);
    // Asked for earlier than the armed timer: re-armed sooner.
    wait.begin(10_000);
    const sooner = performance.now();
    await new Promise<void>((resolve) => wait.begin(30).addEventListener('abort', resolve));
    assert.ok(performance.now() - sooner < 1000);
  });

  it('end() ends the current wait and every later one at once', async () => {
    const stream = new MemoryLogStream(LIMITS);
    const cursor = await openCursor(stream);
    const wait = new WriterWait();
    const pending = cursor.waitForMore(wait.begin(10_000));
    await sleep(10);
    wait.end();
    await pending;
    assert.equal(wait.begin(10_000).aborted, true, 'a wait after end() is over before it starts');
    await cursor.waitForMore(wait.begin(10_000));
    cursor.release();
  });
});
