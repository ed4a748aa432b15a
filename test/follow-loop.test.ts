// The follow loop (handler/tail/follow.ts) over a real memory stream: what
// it owes the rest of the server while one tail catches up, and what it owns.
import assert from 'node:assert/strict';
import type { DroppedRange, ReadBatch, StoredLine, StreamCursor } from '../stream/log-stream.ts';
import { MemoryLogStream } from '../stream/memory-log-stream.ts';
import { TAIL_BATCH_LINES } from '../handler/tail/batch.ts';
import { followStream, type TailWriter } from '../handler/tail/follow.ts';
import { RawWriter } from '../handler/tail/raw-writer.ts';
import type { TailSink } from '../handler/tail/sink.ts';
import { appendText } from '../stream/text-append.ts';
import { LeaveSignal } from '../handler/tail/leave-signal.ts';
import { TailSession } from '../handler/tail/session.ts';
import { TailCounter } from '../handler/tail-counter.ts';

/** A writer whose socket takes every batch at once (the case that could hold the thread): it records what it got. */
class InstantWriter implements TailWriter {
  closed = false;
  batches = 0;
  lineCount = 0;
  restartedAt: number | undefined;
  constructor(private readonly onBatch: (batches: number) => void = () => {}) {}
  lines(batch: readonly StoredLine[]): Promise<void> {
    this.batches++;
    this.lineCount += batch.length;
    this.onBatch(this.batches);
    return Promise.resolve();
  }
  async restart(from: number): Promise<'continue'> {
    this.restartedAt = from;
    return 'continue';
  }
  async dropped(_range: DroppedRange): Promise<'continue'> {
    return 'continue';
  }
  async terminal(): Promise<void> {}
  async lifetime(): Promise<void> {}
  async ping(): Promise<void> {}
  end(): void {}
  fail(): void {}
}

/** Counts the reads of a real cursor, and the empty ones among them. */
function countingReads(cursor: StreamCursor): { cursor: StreamCursor; reads: number; empty: number } {
  const counts = { cursor, reads: 0, empty: 0 };
  const read = cursor.read.bind(cursor);
  cursor.read = async (maxLines: number, maxBytes: number): Promise<ReadBatch> => {
    const batch = await read(maxLines, maxBytes);
    counts.reads++;
    if (batch.lines.length === 0 && !batch.end) counts.empty++;
    return batch;
  };
  return counts;
}

const limits = { maxLines: 100_000, maxBytes: 1 << 30, ttlSeconds: 60, maxLineBytes: 1024, closedGraceSeconds: 60 };

function session(slots: TailCounter): TailSession {
  slots.acquire('a');
  return new TailSession({
    slots,
    account: 'a',
    viewerLeft: new LeaveSignal(),
    shutdown: new AbortController().signal,
    lifetimeMs: 60_000,
    pingIntervalMs: 60_000,
  });
}

describe('the follow loop', () => {
  let stream: MemoryLogStream;
  beforeEach(async () => {
    stream = new MemoryLogStream(limits);
    await stream.open('s');
  });
  afterEach(() => stream.shutdown());

  it('lets the event loop turn while a tail catches up batch after batch, instead of sending its whole backlog in one turn', async () => {
    const batches = 10;
    await stream.push(
      's',
      Array.from({ length: batches * TAIL_BATCH_LINES }, (_, i) => ({ out: `line ${i}\n` })),
    );
    await stream.close('s');
    let batchesWhenTurned: number | undefined;
    const writer = new InstantWriter((n) => {
      // Queued at the first batch: it runs at the next turn of the event loop.
      if (n === 1) setImmediate(() => (batchesWhenTurned = writer.batches));
    });
    const cursor = (await stream.cursor('s', { kind: 'beginning' }))!;
    const outcome = await followStream(cursor, writer, session(new TailCounter(10)));
    assert.equal(outcome, 'ended');
    assert.equal(writer.lineCount, batches * TAIL_BATCH_LINES);
    // Without the turn, every batch would be sent before anything else ran (batchesWhenTurned = 10).
    assert.ok(
      batchesWhenTurned !== undefined && batchesWhenTurned <= 2,
      `the loop turned only after ${String(batchesWhenTurned ?? 'all')} of ${batches} batches`,
    );
  });

  it('says restart first when the viewer resumes after a seq this stream (opened again) does not reach, and gives the slot back', async () => {
    await stream.push('s', [{ out: 'a\n' }, { out: 'b\n' }]);
    await stream.close('s');
    const slots = new TailCounter(1);
    const writer = new InstantWriter();
    const cursor = (await stream.cursor('s', { kind: 'after', seq: 50 }))!;
    const from = cursor.position;
    assert.ok(from <= 50);
    assert.equal(await followStream(cursor, writer, session(slots), 50), 'ended');
    assert.equal(writer.restartedAt, from);
    assert.equal(writer.lineCount, 2 - from);
    // The follow loop closed the session: the account's one slot can be taken again.
    assert.doesNotThrow(() => slots.acquire('a'));
  });

  it('says no restart when the viewer resumes inside the stream', async () => {
    await stream.push('s', [{ out: 'a\n' }, { out: 'b\n' }, { out: 'c\n' }]);
    await stream.close('s');
    const writer = new InstantWriter();
    const cursor = (await stream.cursor('s', { kind: 'after', seq: 0 }))!;
    assert.equal(await followStream(cursor, writer, session(new TailCounter(1)), 0), 'ended');
    assert.equal(writer.restartedAt, undefined);
    assert.equal(writer.lineCount, 2);
  });

  it('reads once per push it is woken for: a batch that reaches the newest line (atHead) is not followed by an empty read', async () => {
    const writer = new InstantWriter();
    const counted = countingReads((await stream.cursor('s', { kind: 'beginning' }))!);
    const following = followStream(counted.cursor, writer, session(new TailCounter(1)));
    const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
    await settle(); // the tail found nothing and waits
    const pushes = 5;
    for (let i = 0; i < pushes; i++) {
      await stream.push('s', [{ out: `a ${i}\n` }, { out: `b ${i}\n` }]);
      await settle(); // each push wakes the tail on its own
    }
    await stream.close('s');
    assert.equal(await following, 'ended');
    assert.equal(writer.lineCount, pushes * 2);
    assert.equal(writer.batches, pushes);
    // The first read, one per push and the last one (the end); an empty read after each push would make it 12.
    assert.equal(counted.empty, 1, `${counted.empty} empty reads`);
    assert.equal(counted.reads, pushes + 2);
  });

  it('ends at once when the writer closed itself at the head (a range that reached its end), without waiting for a push or a ping', async () => {
    await stream.push('s', [{ out: 'a\n' }]);
    const writer = new InstantWriter(() => (writer.closed = true));
    const cursor = (await stream.cursor('s', { kind: 'beginning' }))!;
    const slots = new TailCounter(1);
    const outcome = await Promise.race([
      followStream(cursor, writer, session(slots)),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), 2000)),
    ]);
    assert.equal(outcome, 'viewer-left');
    assert.doesNotThrow(() => slots.acquire('a'), 'the slot was given back');
  });

  it('never sends a raw tail the held partial line of a stream opened again under the name while its socket was full', async () => {
    await stream.push('s', [{ out: 'ab\n' }]);
    const sent: string[] = [];
    let drained!: () => void;
    const viewerLeft = new LeaveSignal();
    // A socket that takes the first batch but is full until the test drains it.
    const sink: TailSink = {
      signal: viewerLeft,
      closed: false,
      write(data) {
        sent.push(data.toString());
        return sent.length === 1 ? new Promise<void>((resolve) => (drained = resolve)) : Promise.resolve();
      },
      writePieces(pieces) {
        return this.write(Buffer.concat(pieces));
      },
      end() {
        (this as { closed: boolean }).closed = true;
      },
      destroy() {
        (this as { closed: boolean }).closed = true;
      },
    };
    const writer = new RawWriter(sink, { writeHead: () => undefined, flushHeaders: () => undefined }, 0, { heldText: () => stream.textState('s') });
    const following = followStream((await stream.cursor('s', { kind: 'beginning' }))!, writer, session(new TailCounter(1)));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(sent, ['ab\n']);
    // Opened again; the new stream's partial line covers the old one's offsets (3 on).
    await stream.open('s');
    await appendText(stream, 's', Buffer.from('NEWSTREAM-no-newline'), 1024);
    drained();
    assert.equal(await following, 'restart');
    assert.deepEqual(sent, ['ab\n'], "the new stream's bytes went to a reader of the old one");
  });
});
