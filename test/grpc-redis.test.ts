// gRPC across instances (docs/GRPC.md, "Many instances"): two servers on one
// private redis-server, as behind any gRPC load balancer. A tail resumed by
// seq on the other instance continues without gap or repeat; a Redis outage
// is UNAVAILABLE (LOGSVC_BACKEND_UNAVAILABLE) and NOT_SERVING on the health
// service, and both recover when Redis is back.
import assert from 'node:assert/strict';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as healthProto } from 'grpc-health-check';
import { startTestServer, type TestServer } from './support/in-process-server.ts';
import { startRedis, type TestRedis } from './support/redis-server.ts';
import { closeClient, grpc, linesOf, logStreamsClient, push, tail, unary, until, type LogStreamsClient } from './support/grpc-client.ts';

const RUN = `${process.pid}-${Date.now().toString(36)}`;
let counter = 0;
const newKey = () => `grpc/${RUN}-${counter++}/stage/step`;

describe('gRPC on two instances sharing one Redis', function () {
  this.timeout(40_000);
  let redis: TestRedis | null = null;
  let a: TestServer;
  let b: TestServer;
  let ca: LogStreamsClient;
  let cb: LogStreamsClient;

  before(async function () {
    // A private redis-server (REDIS_URL: '' so an external one is not used): the outage test stops it.
    redis = await startRedis({ ...process.env, REDIS_URL: '' });
    if (redis === null) {
      this.skip();
      return;
    }
    const env = { LOG_SERVICE_GRPC_BIND: '127.0.0.1:0', LOG_SERVICE_REDIS_URL: redis.url, LOG_SERVICE_STREAM_CLOSED_GRACE_SECONDS: '5' };
    [a, b] = await Promise.all([startTestServer(env), startTestServer(env)]);
    ca = logStreamsClient(`127.0.0.1:${a.grpcPort}`);
    cb = logStreamsClient(`127.0.0.1:${b.grpcPort}`);
  });
  after(async () => {
    if (ca !== undefined) closeClient(ca);
    if (cb !== undefined) closeClient(cb);
    await Promise.all([a?.destroy(), b?.destroy()]);
    await redis?.stop();
  });

  it('resumes a tail by seq on the other instance: no line missing, none twice, then the End', async () => {
    const key = newKey();
    await unary(ca, 'Open', { key });
    await push(ca, [{ key, lines: Array.from({ length: 5 }, (_, i) => ({ out: `first ${i}\n` })) }]);
    // A viewer on A reads the first five lines, then its connection is gone.
    const onA = tail(ca, { key }, undefined, { deadline: Date.now() + 10_000 });
    await until('five lines on A', 5000, () => linesOf(onA.messages).length === 5);
    onA.call.cancel();
    await onA.result;
    const lastSeen = linesOf(onA.messages).at(-1)!.seq;
    // Lines pushed through B while it was away; it comes back on B, from the last seq it saw.
    await push(cb, [{ key, lines: Array.from({ length: 5 }, (_, i) => ({ out: `second ${i}\n` })) }]);
    const onB = tail(cb, { key, fromSeq: lastSeen }, undefined, { deadline: Date.now() + 10_000 });
    await until('five more lines on B', 5000, () => linesOf(onB.messages).length === 5);
    await unary(ca, 'Close', { key });
    const { messages, status } = await onB.result;
    assert.equal(status.code, grpc.status.OK);
    assert.deepEqual(
      linesOf(messages).map((l) => l.seq),
      [5, 6, 7, 8, 9],
    );
    assert.deepEqual(
      linesOf(messages).map((l) => l.out),
      Array.from({ length: 5 }, (_, i) => `second ${i}\n`),
    );
    assert.equal(messages.at(-1)?.event, 'end');
  });

  it('answers UNAVAILABLE with LOGSVC_BACKEND_UNAVAILABLE while Redis is down, NOT_SERVING on health, and recovers', async () => {
    const key = newKey();
    await unary(ca, 'Open', { key });
    const viewer = tail(cb, { key }, undefined, { deadline: Date.now() + 30_000 });
    await until('the viewer is following', 5000, () => viewer.messages.length > 0 || b.services.context.tails.total() === 1);
    await redis!.stop();
    try {
      const during = await push(ca, [{ key, lines: [{ out: 'lost?\n' }] }]);
      assert.equal(during.status.code, grpc.status.UNAVAILABLE, during.status.details);
      assert.equal(during.status.metadata.get('logsvc-code')[0], 'LOGSVC_BACKEND_UNAVAILABLE');
      await until('NOT_SERVING on health', 10_000, async () => (await healthOf(a)) === 'NOT_SERVING');
      // The viewer is told to come back (UNAVAILABLE, with the resume point) rather than left hanging.
      const ended = await viewer.result;
      assert.equal(ended.status.code, grpc.status.UNAVAILABLE);
      assert.match(ended.status.details, /resume with from_seq/);
    } finally {
      await redis!.restart();
    }
    await until('SERVING again', 15_000, async () => (await healthOf(a)) === 'SERVING');
    // The private Redis restarted empty: the stream is opened again and used.
    await until('Open works again', 15_000, async () =>
      unary(ca, 'Open', { key }).then(
        () => true,
        () => false,
      ),
    );
    const after = await push(ca, [{ key, lines: [{ out: 'back\n' }] }]);
    assert.equal(after.status.code, grpc.status.OK, after.status.details);
    assert.deepEqual(after.acks, [{ lastSeq: 0, lines: 1 }]);
    await unary(cb, 'Close', { key });
  });

  // Last: it stops instance A.
  it('ends a tail with UNAVAILABLE when its instance stops, naming the seq to resume from on the other', async () => {
    const key = newKey();
    await unary(ca, 'Open', { key });
    await push(ca, [{ key, lines: [{ out: 'a\n' }, { out: 'b\n' }] }]);
    const onA = tail(ca, { key }, undefined, { deadline: Date.now() + 20_000 });
    await until('the history on A', 5000, () => linesOf(onA.messages).length === 2);
    const stopping = a.destroy();
    const { status } = await onA.result;
    await stopping;
    assert.equal(status.code, grpc.status.UNAVAILABLE);
    const resume = /resume with from_seq=(\d+)/.exec(status.details);
    assert.ok(resume !== null, status.details);
    assert.equal(Number(resume[1]), 1);
    await push(cb, [{ key, lines: [{ out: 'c\n' }] }]);
    const onB = tail(cb, { key, fromSeq: Number(resume[1]) }, undefined, { deadline: Date.now() + 10_000 });
    await until('the rest on B', 5000, () => linesOf(onB.messages).length === 1);
    await unary(cb, 'Close', { key });
    const rest = await onB.result;
    assert.deepEqual(linesOf(rest.messages), [{ seq: 2, out: 'c\n' }]);
    assert.equal(rest.messages.at(-1)?.event, 'end');
  });
});

async function healthOf(server: TestServer): Promise<string> {
  const def = loadSync(healthProto, { keepCase: true, enums: String });
  const Health = (grpc.loadPackageDefinition(def) as unknown as { grpc: { health: { v1: { Health: new (...a: unknown[]) => grpc.Client } } } }).grpc.health.v1
    .Health;
  const client = new Health(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, CallableFunction>;
  try {
    return await new Promise<string>((resolve, reject) =>
      client.Check!({ service: 'logservice.v1.LogStreams' }, { deadline: Date.now() + 3000 }, (err: Error | null, value: { status: string }) =>
        err ? reject(err) : resolve(value.status),
      ),
    );
  } finally {
    grpc.Client.prototype.close.call(client);
  }
}
