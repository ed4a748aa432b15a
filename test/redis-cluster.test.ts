// The Redis Streams backend on a real 3-master Redis Cluster (CONTRIBUTING.md, habit 9),
// built exactly as the server builds it for LOG_SERVICE_REDIS_CLUSTER_NODES
// (createRedisLogStream → redisClientFactory → ioredis Cluster, NotifyFanout):
// the LogStream contract unchanged, then two instances sharing the cluster.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from 'ioredis';
import { decodeLine } from '../stream/line-codec.ts';
import type { StoredLine, StreamCursor, StreamLimits } from '../stream/log-stream.ts';
import type { RedisSettings } from '../stream/redis-connection.ts';
import type { RedisLogStream, RedisLogStreamOptions } from '../stream/redis-log-stream.ts';
import { createRedisLogStream } from '../stream/redis-wiring.ts';
import { DEFAULT_TEST_LIMITS, logStreamContract, uniqueName } from './contract/log-stream.contract.ts';
import { startRedisCluster, type TestCluster } from './support/redis-cluster.ts';

/** One key namespace (and notify channel) per test run. */
const NAMESPACE = `logsvc-cluster-test-${process.pid}-${Date.now().toString(36)}:`;

/** Connection problems are expected only where a test causes them; here they fail loudly in the log. */
const log = { warn: (obj: unknown, msg?: string) => console.warn('redis cluster test:', msg, obj) };

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

describe('RedisLogStream on Redis Cluster', function () {
  this.timeout(30000);
  let cluster: TestCluster | null = null;
  const made: RedisLogStream[] = [];

  const settings = (): RedisSettings => ({ clusterNodes: cluster!.nodes, tls: false, sentinelName: 'mymaster' });

  function make(limits: Partial<StreamLimits> = {}, options: RedisLogStreamOptions = {}): RedisLogStream {
    const stream = createRedisLogStream(settings(), { ...DEFAULT_TEST_LIMITS, ...limits }, log, { prefix: NAMESPACE, ...options });
    made.push(stream);
    return stream;
  }

  before(async function () {
    this.timeout(60000);
    cluster = await startRedisCluster();
    if (cluster === null) this.skip();
  });

  afterEach(async () => {
    while (made.length > 0) await made.pop()?.shutdown();
  });

  after(async () => {
    await cluster?.stop();
  });

  logStreamContract('redis cluster', async (limits) => {
    const stream = createRedisLogStream(settings(), limits, log, { prefix: NAMESPACE });
    return { stream, cleanup: () => stream.shutdown() };
  });

  it('reports no connection problem caused by its own shutdown', async () => {
    // A shutdown while the notify subscription is still being set up must not log "redis: connection problem".
    const problems: string[] = [];
    for (let i = 0; i < 10; i++) {
      const s = createRedisLogStream(settings(), DEFAULT_TEST_LIMITS, log, {
        prefix: NAMESPACE,
        onError: (err) => problems.push(`${i}: ${String(err)}`),
      });
      const name = uniqueName();
      await s.open(name);
      await s.shutdown();
    }
    assert.deepEqual(problems, []);
  });

  describe('two instances on one cluster', () => {
    it('uses a Cluster client and spreads streams over more than one master', async () => {
      const a = make();
      assert.ok(a.command instanceof Cluster, 'clusterNodes builds an ioredis Cluster');
      const names = Array.from({ length: 12 }, () => uniqueName('spread'));
      for (const n of names) await a.open(n);
      const perMaster = await Promise.all(
        a.command.nodes('master').map(async (node) => {
          const [, keys] = await node.scan('0', 'MATCH', `${NAMESPACE}{spread-*}:m`, 'COUNT', 100000);
          return keys.length;
        }),
      );
      assert.equal(perMaster.length, 3, 'three masters');
      assert.equal(
        perMaster.reduce((x, y) => x + y, 0),
        names.length,
        'one meta key per stream',
      );
      assert.ok(perMaster.filter((n) => n > 0).length >= 2, `keys per master: ${perMaster.join(', ')}`);
      assert.deepEqual((await a.list('spread-')).filter((n) => names.includes(n)).sort(), [...names].sort(), 'list() scans every master');
    });

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
      viewer.release();
    });

    it('wakes a viewer on B at a push on A and ends it within 3 s of a close on A, by the PUBLISH notice and not a poll', async () => {
      // B's catch-up poll runs every min(blockMs, expiryCheckMs) = 30 s: anything faster came through the notice.
      // A prefix of its own gives this test a notify channel with only A and B on it.
      const prefix = `${NAMESPACE}notice-`;
      const a = make({}, { prefix });
      const b = make({}, { prefix, blockMs: 30000, expiryCheckMs: 30000 });
      const channel = `${prefix}notify`;
      const cluster = a.command as Cluster;
      const subscribed = async () => {
        const counts = await Promise.all(
          cluster.nodes('master').map(async (node) => {
            const reply = (await node.call('PUBSUB', 'NUMSUB', channel)) as [string, number];
            return Number(reply[1]);
          }),
        );
        return counts.reduce((x, y) => x + y, 0);
      };
      const deadline = Date.now() + 10000;
      while ((await subscribed()) < 2) {
        assert.ok(Date.now() < deadline, 'A and B did not subscribe to the notify channel within 10 s');
        await sleep(50);
      }
      const name = uniqueName();
      await a.open(name);
      await a.push(name, [{ out: 'first\n' }]);
      const viewer = (await b.cursor(name, { kind: 'beginning' }))!;
      assert.deepEqual(
        (await viewer.read(10, 1 << 20)).lines.map((l) => decodeLine(l).out),
        ['first\n'],
      );

      const woken = viewer.waitForMore(AbortSignal.timeout(10000));
      await sleep(300); // let B's initial catch-up read finish: only a notice can deliver what comes next
      const pushedAt = Date.now();
      assert.equal(await a.push(name, [{ out: 'second\n' }]), 1);
      await woken;
      const pushDelay = Date.now() - pushedAt;
      assert.deepEqual(
        (await viewer.read(10, 1 << 20)).lines.map((l) => decodeLine(l).out),
        ['second\n'],
      );
      assert.ok(pushDelay < 3000, `the line took ${pushDelay} ms`);

      const ending = viewer.waitForMore(AbortSignal.timeout(10000));
      await sleep(300);
      const closedAt = Date.now();
      assert.equal(await a.close(name), true);
      await ending;
      const batch = await viewer.read(10, 1 << 20);
      const closeDelay = Date.now() - closedAt;
      assert.equal(batch.end, true, 'the viewer on B sees the end');
      assert.deepEqual(batch.lines, []);
      assert.ok(closeDelay < 3000, `the end took ${closeDelay} ms`);
      viewer.release();
    });
  });
});
