// The Redis Streams backend against a real redis-server (CONTRIBUTING.md, habit 9): the shared
// LogStream contract unchanged, then what only a shared backend can show —
// several instances on one Redis, a fixed number of connections, expiry on
// every key, and surviving a Redis restart.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { decodeLine } from '../stream/line-codec.ts';
import { MemoryLogStream } from '../stream/memory-log-stream.ts';
import type { StoredLine, StreamCursor, StreamLimits } from '../stream/log-stream.ts';
import { redisClientFactory, type RedisSettings } from '../stream/redis-connection.ts';
import { RedisLogStream, type RedisLogStreamOptions } from '../stream/redis-log-stream.ts';
import { DEFAULT_TEST_LIMITS, logStreamContract, uniqueName } from './contract/log-stream.contract.ts';
import { startRedis, type TestRedis } from './support/redis-server.ts';

/** One key namespace per test run, so runs sharing a REDIS_URL never collide. */
const NAMESPACE = `logsvc-test-${process.pid}-${Date.now().toString(36)}:`;

const settings = (url: string): RedisSettings => ({ url, tls: false, sentinelName: 'mymaster' });

async function readAll(cursor: StreamCursor, limitMs = 5000): Promise<StoredLine[]> {
  const lines: StoredLine[] = [];
  const deadline = Date.now() + limitMs;
  for (;;) {
    const batch = await cursor.read(100, 1 << 20);
    assert.equal(batch.dropped, undefined, 'no line may be dropped here');
    lines.push(...batch.lines);
    if (batch.end) return lines;
    if (batch.lines.length === 0) {
      assert.ok(Date.now() < deadline, 'stream did not end in time');
      await cursor.waitForMore(AbortSignal.timeout(200));
    }
  }
}

describe('RedisLogStream', function () {
  this.timeout(30000);
  let redis: TestRedis | null = null;
  let admin: Redis | undefined;
  const made: RedisLogStream[] = [];

  function make(limits: Partial<StreamLimits> = {}, options: RedisLogStreamOptions = {}, url = redis!.url, connectionName?: string): RedisLogStream {
    const stream = new RedisLogStream(
      redisClientFactory(settings(url), { connectionName, commandTimeoutMs: 2000 }),
      { ...DEFAULT_TEST_LIMITS, ...limits },
      { prefix: NAMESPACE, ...options },
    );
    made.push(stream);
    return stream;
  }

  before(async function () {
    redis = await startRedis();
    if (redis === null) this.skip();
    admin = new Redis(redis.url);
  });

  afterEach(async () => {
    while (made.length > 0) await made.pop()?.shutdown();
  });

  after(async () => {
    admin?.disconnect();
    await redis?.stop().catch(() => {});
  });

  logStreamContract('redis', async (limits) => {
    const stream = new RedisLogStream(redisClientFactory(settings(redis!.url)), limits, { prefix: NAMESPACE });
    return { stream, cleanup: () => stream.shutdown() };
  });

  describe('two instances on one Redis', () => {
    it('gives a viewer on B every line pushed through A and B, in order, with consecutive seqs', async () => {
      const a = make();
      const b = make();
      const name = uniqueName();
      await a.open(name);
      const viewer = (await b.cursor(name, { kind: 'beginning' }))!;
      const reading = readAll(viewer, 10000);
      const expected: string[] = [];
      for (let i = 0; i < 20; i++) {
        const via = i % 2 === 0 ? a : b;
        const batch = Array.from({ length: 5 }, (_, j) => ({ out: `${i}.${j}\n` }));
        assert.equal(await via.push(name, batch), i * 5, 'seqs are allocated in Redis, the same on every instance');
        expected.push(...batch.map((l) => l.out));
      }
      await a.close(name);
      const lines = await reading;
      assert.deepEqual(
        lines.map((l) => l.seq),
        Array.from({ length: 100 }, (_, i) => i),
      );
      assert.deepEqual(
        lines.map((l) => decodeLine(l).out),
        expected,
      );
    });

    it('ends a waiting viewer on B within 2 s of a close on A, woken by Redis and not by a poll', async () => {
      // The reader's longest wait is 30 s: an end that comes in well under that was pushed, not polled.
      const a = make();
      const b = make({}, { blockMs: 30000, expiryCheckMs: 60000 });
      const name = uniqueName();
      await a.open(name);
      await a.push(name, [{ out: 'last\n' }]);
      const viewer = (await b.cursor(name, { kind: 'beginning' }))!;
      assert.equal((await viewer.read(10, 1 << 20)).lines.length, 1);
      const waiting = viewer.waitForMore(AbortSignal.timeout(10000));
      await sleep(300); // let B's reader settle into its blocking read
      const closedAt = Date.now();
      await a.close(name);
      await waiting;
      const batch = await viewer.read(10, 1 << 20);
      const elapsed = Date.now() - closedAt;
      assert.equal(batch.end, true);
      assert.ok(elapsed < 2000, `the end took ${elapsed} ms`);
      viewer.release();
    });

    it('follows a stream a viewer just opened at once, while the reader is already blocked on other streams', async () => {
      const a = make();
      const b = make({}, { blockMs: 30000, expiryCheckMs: 60000 });
      const busy = uniqueName();
      const late = uniqueName();
      await a.open(busy);
      await a.open(late);
      const first = (await b.cursor(busy, { kind: 'beginning' }))!;
      await sleep(300); // B's reader is now blocked on `busy` alone
      const viewer = (await b.cursor(late, { kind: 'beginning' }))!;
      const waiting = viewer.waitForMore(AbortSignal.timeout(10000));
      const pushedAt = Date.now();
      await a.push(late, [{ out: 'hello\n' }]);
      await waiting;
      const elapsed = Date.now() - pushedAt;
      assert.deepEqual(
        (await viewer.read(10, 1 << 20)).lines.map((l) => decodeLine(l).out),
        ['hello\n'],
      );
      assert.ok(elapsed < 2000, `the line took ${elapsed} ms`);
      first.release();
      viewer.release();
    });

    it('continues a viewer moved from A to B after its last seq with no gap and no duplicate', async () => {
      const a = make();
      const b = make();
      const name = uniqueName();
      await a.open(name);
      await a.push(
        name,
        Array.from({ length: 20 }, (_, i) => ({ out: `${i}\n` })),
      );
      const onA = (await a.cursor(name, { kind: 'beginning' }))!;
      const seen = (await onA.read(7, 1 << 20)).lines;
      onA.release();
      const lastSeq = seen[seen.length - 1]!.seq;
      const onB = (await b.cursor(name, { kind: 'after', seq: lastSeq }))!;
      assert.equal(onB.position, lastSeq + 1);
      const reading = readAll(onB);
      await b.push(
        name,
        Array.from({ length: 5 }, (_, i) => ({ out: `${20 + i}\n` })),
      );
      await a.close(name);
      const rest = await reading;
      const all = [...seen, ...rest];
      assert.deepEqual(
        all.map((l) => l.seq),
        Array.from({ length: 25 }, (_, i) => i),
      );
      assert.deepEqual(
        all.map((l) => decodeLine(l).out),
        Array.from({ length: 25 }, (_, i) => `${i}\n`),
      );
    });
  });

  it('stores and serves lines byte for byte as the memory backend does', async () => {
    const s = make();
    const memory = new MemoryLogStream(DEFAULT_TEST_LIMITS);
    const name = uniqueName();
    const input = [
      { out: 'plain\n', time: '2026-01-02T03:04:05Z' },
      { out: 'é ✓ \u{1F600} "quoted" \\ \u0007\n', level: 'warn', time: '2026-01-02T03:04:06Z', args: { a: [1, { b: null }] } },
      { out: 'given pos\n', pos: 99, time: '2026-01-02T03:04:07Z' },
      { out: 'x'.repeat(300) + '\n', time: '2026-01-02T03:04:08Z' },
    ];
    for (const backend of [s, memory]) {
      await backend.open(name);
      await backend.push(name, input.slice(0, 2));
      await backend.push(name, input.slice(2));
      await backend.close(name);
    }
    const collect = async (backend: RedisLogStream | MemoryLogStream) => {
      const out: StoredLine[] = [];
      for await (const line of backend.lines(name)) out.push(line);
      return out.map((l) => [l.seq, l.offset, l.textBytes, l.jsonStart, l.event.toString('base64')]);
    };
    const fromRedis = await collect(s);
    assert.equal(fromRedis.length, 4);
    assert.deepEqual(fromRedis, await collect(memory));
    await memory.shutdown();
  });

  it('serves 50 viewers on one instance over the same two Redis connections', async () => {
    const tag = `conn-${process.pid}-${Date.now().toString(36)}`;
    const count = async () =>
      String(await admin!.call('CLIENT', 'LIST'))
        .split('\n')
        .filter((l) => l.includes(`name=${tag}-`)).length;
    const s = make({}, {}, redis!.url, tag);
    const names = Array.from({ length: 5 }, () => uniqueName());
    for (const n of names) await s.open(n);
    await s.push(names[0]!, [{ out: 'warm\n' }]);
    const before = await count();
    assert.equal(before, 2, 'one command connection and one blocking reader');
    const viewers = await Promise.all(Array.from({ length: 50 }, (_, i) => s.cursor(names[i % names.length]!, { kind: 'beginning' })));
    const reading = viewers.map((v) => readAll(v!, 10000));
    for (const n of names)
      await s.push(
        n,
        Array.from({ length: 10 }, (_, i) => ({ out: `${i}\n` })),
      );
    assert.equal(await count(), before, 'no connection per viewer');
    for (const n of names) await s.close(n);
    for (const lines of await Promise.all(reading)) assert.ok(lines.length >= 10);
    assert.equal(await count(), before);
  });

  it('gives every key it writes an expiry', async () => {
    const s = make();
    const open = uniqueName();
    const closed = uniqueName();
    await s.open(open);
    await s.open(closed);
    await s.push(open, [{ out: 'a\n' }]);
    await s.push(closed, [{ out: 'b\n' }]);
    await s.close(closed);
    const viewer = await s.cursor(open, { kind: 'beginning' });
    let cursor = '0';
    const keys: string[] = [];
    for (let i = 0; i < 10000; i++) {
      const [next, found] = await admin!.scan(cursor, 'MATCH', `${NAMESPACE}*`, 'COUNT', 1000);
      keys.push(...found);
      cursor = next;
      if (cursor === '0') break;
    }
    assert.ok(keys.length >= 4, `found ${keys.length} keys`);
    for (const key of keys) assert.ok((await admin!.pttl(key)) > 0, `${key} has no expiry`);
    viewer?.release();
  });

  // PUSH checks EXISTS on the stream key before any XADD, so its NOMKSTREAM is
  // defensive: what can fail is the observable property, which this tests.
  // (Without the EXISTS check the push to a vanished stream key would succeed.)
  it('refuses a push and creates no stream key once the stream is closed and expired, or its stream key vanished', async () => {
    const s = make({ closedGraceSeconds: 1 });
    const name = uniqueName();
    await s.open(name);
    await s.push(name, [{ out: 'a\n' }]);
    await s.close(name);
    const keysOf = async () => (await admin!.scan('0', 'MATCH', `${NAMESPACE}{${name}}*`, 'COUNT', 100000))[1];
    const deadline = Date.now() + 8000;
    while ((await keysOf()).length > 0) {
      assert.ok(Date.now() < deadline, 'closed stream keys outlived the grace period');
      await sleep(100);
    }
    await assert.rejects(s.push(name, [{ out: 'late\n' }]), { code: 'LOGSVC_STREAM_NOT_FOUND' });
    assert.deepEqual(await keysOf(), [], 'the push wrote nothing');

    // The meta hash says open, but the stream key is gone (deleted, or evicted by maxmemory).
    const other = uniqueName();
    const meta = `${NAMESPACE}{${other}}:m`;
    const key = `${NAMESPACE}{${other}}:s`;
    await s.open(other);
    await s.push(other, [{ out: 'kept\n' }]);
    await admin!.del(key);
    const before = await admin!.hgetall(meta);
    await assert.rejects(
      s.push(
        other,
        Array.from({ length: 5 }, (_, i) => ({ out: `${i}\n` })),
      ),
      { code: 'LOGSVC_STREAM_NOT_FOUND' },
    );
    assert.equal(await admin!.exists(key), 0, 'the push did not create the stream key');
    assert.deepEqual(await admin!.hgetall(meta), before, 'the push allocated no seqs');
  });

  // CLOSE has no EXISTS check: here NOMKSTREAM is what keeps the close marker
  // from creating a stream key of its own.
  it('does not create the stream key when closing a stream whose stream key vanished (NOMKSTREAM on the close marker)', async () => {
    const s = make();
    const name = uniqueName();
    const key = `${NAMESPACE}{${name}}:s`;
    await s.open(name);
    await s.push(name, [{ out: 'a\n' }]);
    await admin!.del(key);
    await s.close(name);
    assert.equal(await admin!.exists(key), 0, 'the close marker created the stream key');
    assert.equal(await s.exists(name), false);
  });

  it('keeps exactly the newest maxLines lines, in order, while each XADD also carries the MAXLEN ~ cap', async () => {
    // 150 is not a multiple of the 100-entry stream nodes, and the batches
    // cross maxLines in every way: below, at, just over, and far over it in one batch.
    const maxLines = 150;
    const s = make({ maxLines });
    const name = uniqueName();
    const meta = `${NAMESPACE}{${name}}:m`;
    const key = `${NAMESPACE}{${name}}:s`;
    await s.open(name);
    let total = 0;
    for (const size of [100, 49, 1, 1, 120, 400, 1000, 3, 149, 151]) {
      assert.equal(
        await s.push(
          name,
          Array.from({ length: size }, (_, i) => ({ out: `${total + i}\n` })),
        ),
        total,
      );
      total += size;
      const [gen, next, lo] = (await admin!.hmget(meta, 'gen', 'next', 'lo')).map(Number);
      const lines = (await admin!.xrange(key, `${gen}-1`, '+')).map(([id, fields]) => [Number(id.split('-')[1]) - 1, fields[1]]);
      const first = Math.max(0, total - maxLines);
      assert.equal(next, total);
      assert.equal(lo, first, `after ${total} lines`);
      assert.deepEqual(
        lines.map(([seq]) => seq),
        Array.from({ length: total - first }, (_, i) => first + i),
        `after ${total} lines every retained line is there`,
      );
      assert.ok(lines.every(([seq, json]) => JSON.parse(String(json)).out === `${seq}\n`));
    }
    const cursor = (await s.cursor(name, { kind: 'beginning' }))!;
    const batch = await cursor.read(1000, 1 << 20);
    assert.deepEqual(batch.dropped, { from: 0, to: total - maxLines - 1 });
    assert.equal(batch.lines.length, maxLines);
    cursor.release();
  });

  describe('on a private redis-server', () => {
    // Server-wide observations (MONITOR, INFO commandstats) need a server no other test uses.
    let own: TestRedis | null = null;
    let ownAdmin: Redis | undefined;
    const statsOf = async (): Promise<Map<string, number>> => {
      const stats = new Map<string, number>();
      for (const m of String(await ownAdmin!.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) stats.set(m[1]!, Number(m[2]));
      return stats;
    };

    before(async function () {
      own = await startRedis({ ...process.env, REDIS_URL: '' });
      if (own === null || !own.controllable) {
        if (process.env.CI === 'true') throw new Error('these tests need a private redis-server under CI=true');
        console.warn('\n*** WARNING: no private redis-server: the commandstats / MONITOR tests are SKIPPED ***\n');
        this.skip();
      }
      ownAdmin = new Redis(own.url);
    });

    after(async () => {
      ownAdmin?.disconnect();
      await own?.stop();
    });

    it('runs a full open/push/tail/info/list/snapshot/close cycle without ever calling KEYS', async () => {
      const s = make({}, {}, own!.url);
      const name = uniqueName();
      await s.open(name);
      await s.push(name, [{ out: 'one\n' }]);
      const cursor = (await s.cursor(name, { kind: 'beginning' }))!;
      assert.equal((await cursor.read(10, 1 << 20)).lines.length, 1);
      const waiting = cursor.waitForMore(AbortSignal.timeout(5000));
      await s.push(
        name,
        Array.from({ length: 10 }, (_, i) => ({ out: `${i}\n` })),
      );
      await waiting;
      assert.equal((await cursor.read(100, 1 << 20)).lines.length, 10);
      const prefix = name.split('/')[0]!;
      assert.equal((await s.info(prefix)).get(name)?.size, 11);
      assert.deepEqual(await s.list(prefix), [name]);
      assert.equal(await s.exists(name), true);
      assert.equal(await s.close(name), true);
      // The close reaches this instance's reader through Redis: wait for it (bounded), then the cursor ends.
      let ended = false;
      for (let i = 0; i < 50 && !ended; i++) {
        ended = (await cursor.read(100, 1 << 20)).end;
        if (!ended) await cursor.waitForMore(AbortSignal.timeout(200));
      }
      assert.equal(ended, true, 'the cursor saw the close');
      cursor.release();
      let snapshot = 0;
      for await (const line of s.lines(name)) snapshot += line.seq >= 0 ? 1 : 0;
      assert.equal(snapshot, 11);
      const stats = await statsOf();
      assert.ok((stats.get('scan') ?? 0) >= 2, 'info and list ran their SCAN');
      assert.ok((stats.get('evalsha') ?? 0) + (stats.get('eval') ?? 0) >= 4, 'the writes ran as scripts');
      assert.equal(stats.get('keys'), undefined, `cmdstat_keys appeared: ${[...stats.keys()].join(', ')}`);
    });

    it('writes a 100-line batch with exactly one script call (one EVALSHA) that runs 100 XADDs', async () => {
      const s = make({}, {}, own!.url);
      const name = uniqueName();
      await s.open(name);
      await s.push(name, [{ out: 'warm-up\n' }]); // loads the script (a first EVALSHA may answer NOSCRIPT, then EVAL)
      await ownAdmin!.config('RESETSTAT');
      await s.push(
        name,
        Array.from({ length: 100 }, (_, i) => ({ out: `${i}\n` })),
      );
      const stats = await statsOf();
      assert.equal((stats.get('evalsha') ?? 0) + (stats.get('eval') ?? 0), 1, `script calls: ${JSON.stringify([...stats])}`);
      assert.equal(stats.get('evalsha'), 1);
      assert.equal(stats.get('xadd'), 100, 'every line was written inside that one call');
    });

    it("sends every line's XADD with NOMKSTREAM and MAXLEN ~ (maxLines + 2)", async () => {
      const maxLines = 40;
      const s = make({ maxLines }, {}, own!.url);
      const name = uniqueName();
      await s.open(name);
      // monitor() opens a connection of its own: both are closed below.
      const base = new Redis(own!.url);
      const monitor = await base.monitor();
      const xadds: string[][] = [];
      monitor.on('monitor', (_time: string, args: string[]) => {
        if (String(args[0]).toLowerCase() === 'xadd') xadds.push(args.map(String));
      });
      try {
        await s.push(
          name,
          Array.from({ length: 100 }, (_, i) => ({ out: `${i}\n` })),
        );
        await s.push(name, [{ out: 'more\n' }]);
        const deadline = Date.now() + 3000;
        while (xadds.length < 101 && Date.now() < deadline) await sleep(20);
      } finally {
        monitor.disconnect();
        base.disconnect();
      }
      assert.equal(xadds.length, 101);
      for (const args of xadds) {
        assert.deepEqual(args.slice(1, 6), [`${NAMESPACE}{${name}}:s`, 'NOMKSTREAM', 'MAXLEN', '~', String(maxLines + 2)], args.slice(0, 7).join(' '));
      }
      assert.equal(await s.push(name, [{ out: 'last\n' }]), 101);
      assert.equal(await ownAdmin!.xlen(`${NAMESPACE}{${name}}:s`), maxLines, 'the exact trim still decides what is kept');
    });
  });

  it('answers LOGSVC_BACKEND_UNAVAILABLE while Redis is down and works again after it restarts, without a new instance', async function () {
    // A private redis-server: stopping the shared one would disturb the other tests.
    const own = await startRedis({ ...process.env, REDIS_URL: '' });
    if (own === null || !own.controllable) this.skip();
    try {
      const s = make({}, { blockMs: 30000 }, own.url);
      const name = uniqueName();
      await s.open(name);
      await s.push(name, [{ out: 'before\n' }]);
      const viewer = (await s.cursor(name, { kind: 'beginning' }))!;
      assert.equal((await viewer.read(10, 1 << 20)).lines.length, 1);
      const waiting = viewer.waitForMore(AbortSignal.timeout(5000));

      await own.stop();
      const t0 = Date.now();
      await assert.rejects(s.push(name, [{ out: 'lost\n' }]), { code: 'LOGSVC_BACKEND_UNAVAILABLE', message: /^redis unavailable: / });
      assert.ok(Date.now() - t0 < 3000, 'a push fails fast while Redis is down');
      await assert.rejects(s.ping(), { code: 'LOGSVC_BACKEND_UNAVAILABLE' });
      await waiting;
      await assert.rejects(viewer.read(10, 1 << 20), { code: 'LOGSVC_BACKEND_UNAVAILABLE' }, 'an open tail ends with an error so the viewer resumes elsewhere');
      viewer.release();

      await own.restart();
      const deadline = Date.now() + 10000;
      for (;;) {
        try {
          await s.ping();
          break;
        } catch {
          assert.ok(Date.now() < deadline, 'no reconnect within 10 s');
          await sleep(100);
        }
      }
      // This redis-server keeps nothing across a restart: the runner opens again,
      // and pushes through another instance so only s's fan-out reader can wake the viewer.
      await s.open(name);
      const fresh = (await s.cursor(name, { kind: 'beginning' }))!;
      const producer = make({}, {}, own.url);
      await producer.ping();
      const woken = fresh.waitForMore(AbortSignal.timeout(5000));
      const pushedAt = Date.now();
      assert.equal(await producer.push(name, [{ out: 'after\n' }]), 0);
      await woken;
      // The command connection is back (ping); the fan-out reader reconnects on its own
      // schedule, and until then a read at the head says so rather than waiting blind.
      let got: string[] = [];
      for (;;) {
        try {
          got = (await fresh.read(10, 1 << 20)).lines.map((l) => decodeLine(l).out);
          if (got.length > 0) break;
          await fresh.waitForMore(AbortSignal.timeout(200));
        } catch (err) {
          assert.equal((err as { code?: string }).code, 'LOGSVC_BACKEND_UNAVAILABLE');
          await sleep(50);
        }
        assert.ok(Date.now() - pushedAt < 5000, 'the fan-out reader resumed after the reconnect');
      }
      assert.deepEqual(got, ['after\n']);
      fresh.release();
    } finally {
      while (made.length > 0) await made.pop()?.shutdown();
      await own?.stop();
    }
  });
});
