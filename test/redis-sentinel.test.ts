// The Redis Streams backend behind a real Redis Sentinel (CONTRIBUTING.md, habit 9), built
// exactly as the server builds it for LOG_SERVICE_REDIS_SENTINELS (+ _NAME):
// createRedisLogStream → redisClientFactory → ioredis in sentinel mode, which
// asks the sentinel for "mymaster" and connects to the master it names. A
// private redis-server is the master; the LogStream contract runs unchanged.
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { decodeLine } from '../stream/line-codec.ts';
import type { StoredLine, StreamCursor } from '../stream/log-stream.ts';
import type { RedisSettings } from '../stream/redis-connection.ts';
import type { RedisLogStream } from '../stream/redis-log-stream.ts';
import { createRedisLogStream } from '../stream/redis-wiring.ts';
import { DEFAULT_TEST_LIMITS, logStreamContract, uniqueName } from './contract/log-stream.contract.ts';
import { startSentinel, type TestSentinel } from './support/redis-cluster.ts';
import { startRedis, type TestRedis } from './support/redis-server.ts';

const NAMESPACE = `logsvc-sentinel-test-${process.pid}-${Date.now().toString(36)}:`;

const log = { warn: (obj: unknown, msg?: string) => console.warn('redis sentinel test:', msg, obj) };

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

describe('RedisLogStream through Redis Sentinel', function () {
  this.timeout(30000);
  let master: TestRedis | null = null;
  let sentinel: TestSentinel | null = null;
  let admin: Redis | undefined;
  const made: RedisLogStream[] = [];

  /** Only the sentinel's address: the master's comes from Sentinel discovery. */
  const settings = (): RedisSettings => ({ sentinels: [`127.0.0.1:${sentinel!.port}`], sentinelName: 'mymaster', tls: false });

  before(async function () {
    this.timeout(60000);
    // A private master (never REDIS_URL): the sentinel must be able to reach and describe it.
    master = await startRedis({ ...process.env, REDIS_URL: '' });
    if (master === null) this.skip();
    sentinel = await startSentinel(master.port);
    if (sentinel === null) this.skip();
    admin = new Redis(master.url);
  });

  afterEach(async () => {
    while (made.length > 0) await made.pop()?.shutdown();
  });

  after(async () => {
    admin?.disconnect();
    await sentinel?.stop().catch(() => {});
    await master?.stop().catch(() => {});
  });

  logStreamContract('redis sentinel', async (limits) => {
    const stream = createRedisLogStream(settings(), limits, log, { prefix: NAMESPACE });
    return { stream, cleanup: () => stream.shutdown() };
  });

  it('opens, pushes, follows and closes a stream on the master the sentinel names', async () => {
    const tag = `sentinel-${process.pid}-${Date.now().toString(36)}`;
    const a = createRedisLogStream(settings(), DEFAULT_TEST_LIMITS, log, { prefix: NAMESPACE, connectionName: tag });
    const b = createRedisLogStream(settings(), DEFAULT_TEST_LIMITS, log, { prefix: NAMESPACE });
    made.push(a, b);
    assert.notEqual(sentinel!.port, master!.port);
    const name = uniqueName('sentinel');
    await a.open(name);
    const viewer = (await b.cursor(name, { kind: 'beginning' }))!;
    const reading = readAll(viewer, 10000);
    assert.equal(await a.push(name, [{ out: 'one\n' }, { out: 'two\n' }]), 0);
    assert.equal(await b.push(name, [{ out: 'three\n' }]), 2);
    assert.equal(await a.close(name), true);
    const lines = await reading;
    assert.deepEqual(
      lines.map((l) => l.seq),
      [0, 1, 2],
    );
    assert.deepEqual(
      lines.map((l) => decodeLine(l).out),
      ['one\n', 'two\n', 'three\n'],
    );
    viewer.release();

    // The data is on the master, and A's two connections (command, reader) are there too.
    assert.equal(await admin!.exists(`${NAMESPACE}{${name}}:m`), 1);
    const clients = String(await admin!.call('CLIENT', 'LIST'))
      .split('\n')
      .filter((l) => l.includes(`name=${tag}-`));
    assert.equal(clients.length, 2, `A's connections on the master:\n${clients.join('\n')}`);
  });
});
