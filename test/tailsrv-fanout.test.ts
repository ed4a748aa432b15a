// The tailsrv load test of issue 17 (docs/TAILSRV.md §5): the real executable,
// 1,000 idle clients and one client that never reads, while a writer appends
// 50 MB to the file four other clients follow. The four see every byte
// (sha256), the stalled client holds nobody back (nor is it closed), and the
// idle clients cost nothing until their file changes. The latency goal (p99
// append→receipt under 50 ms at ~50 MB/s) is a timing, so it is measured by
// `npm run bench` (tailsrv_fanout, the paced phase), not asserted here
// (CONTRIBUTING.md: tests check correctness, never timings). Then the memory
// bound: 50 clients that never read cost their socket buffers, not a copy of
// the log each.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openTail, type TailClient } from './support/tailsrv-client.ts';
import { rssAnonMb } from './support/process-memory.ts';
import { startTailsrv, type TailsrvProcess } from './support/tailsrv-process.ts';

const IDLE_CLIENTS = 1000;
const READERS = 4;
const TOTAL_BYTES = 50 * 1024 * 1024;
const APPEND_BYTES = 64 * 1024;
const STALLED_CLIENTS = 50;
const STALLED_TOTAL_BYTES = 20 * 1024 * 1024;
/**
 * The bound on the server's RssAnon growth while the 50 stalled clients sit on a 20 MB append.
 * A stalled client holds one 64 KiB read (a view of the file's shared read cache) in its socket's
 * queue; the rest of what it was sent is in the kernel's socket buffers (about 4 MB on loopback),
 * which RssAnon does not count. A per-client copy of the log would cost 50 × (20 MB − those ~4 MB)
 * ≈ 800 MB (a copy per write with no wait for 'drain' in tailsrv/file-tail.ts measured 817 MB);
 * garbage that waits for GC (the reads the reader and the stalled clients were sent, about 24 MB in
 * all) cannot reach 100 MB. Not seen: stalled clients in step queueing views of the same shared reads
 * (one copy, ~16 MB).
 */
const STALLED_GROWTH_LIMIT_MB = 100;

describe('tailsrv under load', function () {
  this.timeout(60_000);
  let dir: string;
  let server: TailsrvProcess;
  const clients: TailClient[] = [];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tailsrv-load-'));
    writeFileSync(join(dir, 'idle.log'), 'quiet\n');
    writeFileSync(join(dir, 'busy.log'), '');
    server = await startTailsrv(['--dir', dir]);
  });
  after(async () => {
    for (const c of clients) c.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('1,000 idle clients and a stalled one: the readers of a 50 MB append see every byte, and none is held back', async () => {
    for (let i = 0; i < IDLE_CLIENTS; i += 100) {
      const batch = await Promise.all(Array.from({ length: 100 }, () => openTail(server.port, 'stream idle.log from end\n')));
      clients.push(...batch);
    }
    const stalled = await openTail(server.port, 'stream busy.log from start\n', { paused: true });
    clients.push(stalled);

    // Each append's end offset and when its write returned; a reader's latency is receipt − that time.
    const appendEnds: number[] = [];
    const appendTimes: number[] = [];
    const latencies: number[] = [];
    const readers = await Promise.all(
      Array.from({ length: READERS }, async () => {
        const hash = createHash('sha256');
        let received = 0;
        let next = 0;
        const client = await openTail(server.port, 'stream busy.log from start\n');
        clients.push(client);
        client.socket.on('data', (chunk: Buffer) => {
          hash.update(chunk);
          received += chunk.length;
          const now = performance.now();
          while (next < appendEnds.length && appendEnds[next]! <= received) latencies.push(now - appendTimes[next++]!);
        });
        return { client, hash, received: () => received };
      }),
    );
    // Every reader's header was read before the first append (it streams "from start" anyway).
    await new Promise((r) => setTimeout(r, 200));
    const memoryBefore = rssAnonMb(server.cli.child.pid!);
    let memoryPeak = memoryBefore;

    const written = createHash('sha256');
    const fd = openSync(join(dir, 'busy.log'), 'a');
    let offset = 0;
    try {
      for (let i = 0; offset < TOTAL_BYTES; i++) {
        const chunk = Buffer.alloc(APPEND_BYTES, `${i} ${'y'.repeat(70)}\n`);
        writeSync(fd, chunk);
        offset += chunk.length;
        appendEnds.push(offset);
        appendTimes.push(performance.now());
        written.update(chunk);
        if (i % 50 === 0) memoryPeak = Math.max(memoryPeak, rssAnonMb(server.cli.child.pid!));
        // About 50 MB/s, 64 KiB a millisecond: a fast writer, and the readers in this process get their turns too.
        await new Promise((r) => setTimeout(r, 1));
      }
    } finally {
      closeSync(fd);
    }
    const expected = written.digest('hex');
    const deadline = Date.now() + 30_000;
    while (readers.some((r) => r.received() < TOTAL_BYTES) && Date.now() < deadline) {
      memoryPeak = Math.max(memoryPeak, rssAnonMb(server.cli.child.pid!));
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const reader of readers) {
      assert.equal(reader.received(), TOTAL_BYTES);
      assert.equal(reader.hash.digest('hex'), expected, 'every byte, in order');
    }
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.floor(latencies.length * 0.99)]!;
    // This test's memory is reported, not asserted: the 50 MB read here leaves tens of MB of freed read
    // buffers waiting for V8's external-memory GC. The bound that GC cannot blur is the next test's.
    if (process.env.TAILSRV_DEBUG)
      console.log({
        p50: latencies[Math.floor(latencies.length / 2)],
        p90: latencies[Math.floor(latencies.length * 0.9)],
        p99,
        max: latencies.at(-1),
        writeMs: appendTimes.at(-1)! - appendTimes[0]!,
        mem: memoryPeak - memoryBefore,
      });
    assert.equal(latencies.length, appendEnds.length * READERS);
    // A sanity bound, not the goal: it fails only when a reader is held back by the stalled client
    // (the append would then wait for a client that never reads). The 50 ms goal is measured by
    // `npm run bench -- --only=tailsrv_fanout` (paced_p99_ms).
    assert.ok(p99 < 1000, `p99 append→receipt ${p99.toFixed(1)} ms: a reader waited for the stalled client`);
    assert.equal(stalled.isEnded, false);

    // The idle clients were never sent a byte, and are all still there.
    assert.ok(clients.slice(0, IDLE_CLIENTS).every((c) => c.bytes().length === 0 && !c.isEnded));
    const { appendFileSync } = await import('node:fs');
    appendFileSync(join(dir, 'idle.log'), 'wake\n');
    await Promise.all(clients.slice(0, IDLE_CLIENTS).map((c) => c.until((t) => t === 'wake\n')));
  });

  it('50 clients that never read, all from start, cost their socket buffers, not a copy of a 20 MB append each', async () => {
    writeFileSync(join(dir, 'stalled.log'), '');
    const stalledServer = await startTailsrv(['--dir', dir]);
    const pid = stalledServer.cli.child.pid!;
    const own: TailClient[] = [];
    try {
      own.push(
        ...(await Promise.all(
          Array.from({ length: STALLED_CLIENTS }, () => openTail(stalledServer.port, 'stream stalled.log from start\n', { paused: true })),
        )),
      );
      // One client that reads: once it has every byte, the server has handled every append (for the stalled clients too).
      const reader = await openTail(stalledServer.port, 'stream stalled.log from start\n');
      own.push(reader);
      await new Promise((r) => setTimeout(r, 200));
      const before = rssAnonMb(pid);
      let peak = before;
      const written = createHash('sha256');
      const fd = openSync(join(dir, 'stalled.log'), 'a');
      try {
        for (let i = 0, offset = 0; offset < STALLED_TOTAL_BYTES; i++) {
          const chunk = Buffer.alloc(APPEND_BYTES, `${i} ${'z'.repeat(70)}\n`);
          writeSync(fd, chunk);
          written.update(chunk);
          offset += chunk.length;
          if (i % 16 === 0) peak = Math.max(peak, rssAnonMb(pid));
          await new Promise((r) => setTimeout(r, 1));
        }
      } finally {
        closeSync(fd);
      }
      const received = reader.until((_t, b) => b.length >= STALLED_TOTAL_BYTES, 20_000);
      const sampling = setInterval(() => (peak = Math.max(peak, rssAnonMb(pid))), 20);
      try {
        await received;
        // A little longer: the stalled clients' last wake-ups run after the reader's.
        await new Promise((r) => setTimeout(r, 300));
      } finally {
        clearInterval(sampling);
      }
      peak = Math.max(peak, rssAnonMb(pid));
      assert.equal(createHash('sha256').update(reader.bytes()).digest('hex'), written.digest('hex'));
      assert.ok(
        own.slice(0, STALLED_CLIENTS).every((c) => !c.isEnded),
        'a client that stops reading is never dropped',
      );
      const growth = peak - before;
      if (process.env.TAILSRV_DEBUG) console.log({ before, peak, growth });
      // A per-client copy of the log would be 50 × ~16 MB ≈ 800 MB here (STALLED_GROWTH_LIMIT_MB).
      assert.ok(
        growth < STALLED_GROWTH_LIMIT_MB,
        `server RssAnon grew ${growth.toFixed(1)} MB with ${STALLED_CLIENTS} stalled clients (bound ${STALLED_GROWTH_LIMIT_MB} MB)`,
      );
    } finally {
      for (const c of own) c.close();
      await stalledServer.stop();
    }
  });
});
