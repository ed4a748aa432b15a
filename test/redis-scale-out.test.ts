// Scale-out over HTTP (docs/PROTOCOL.md §6, docs/BACKENDS.md): two real `log-service server`
// processes, A and B, on one private redis-server. What a load balancer in
// front of them must not be able to break: order and ids across instances,
// the end of a stream, resume on another instance, snapshots, a fixed number
// of Redis connections, stream info, and riding out a Redis outage.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { startRedis, type TestRedis } from './support/redis-server.ts';
import { startS3rver, type S3rverHandle } from './support/s3rver.ts';
import { startServer, type ServerProcess } from './support/server-process.ts';
import { lineEvents, openSse, outs, type SseEvent, type SseSession } from './support/sse-reader.ts';

const ACCOUNT = 'scale';
const RUN = `${process.pid}-${Date.now().toString(36)}`;
let counter = 0;
/** A fresh CI key (project/build/stage/step) per use, so tests never share a stream. */
const newKey = () => `proj/b-${RUN}-${counter++}/stage/step`;

const ciStream = (s: ServerProcess, key: string, query = '') => `${s.url}/ci/${key}/stream${query}`;
const ciBlob = (s: ServerProcess, key: string) => `${s.url}/ci/${key}/blob`;
const hStream = (s: ServerProcess, key: string, query = '') => `${s.url}/stream?accountID=${ACCOUNT}&key=${encodeURIComponent(key)}${query}`;
const hBlob = (s: ServerProcess, key: string) => `${s.url}/blob?accountID=${ACCOUNT}&key=${encodeURIComponent(key)}`;

interface Reply {
  status: number;
  text: string;
  json(): Record<string, unknown>;
}

async function call(method: string, url: string, body?: string, contentType = 'application/json'): Promise<Reply> {
  const res = await fetch(url, {
    method,
    body,
    headers: body === undefined ? {} : { 'Content-Type': contentType },
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

const lines = (tag: string, count: number) => Array.from({ length: count }, (_, i) => `${tag} line ${i}\n`);
const push = (url: string, texts: string[]) => call('PUT', url, JSON.stringify(texts.map((out) => ({ out }))));

function assertConsecutiveIds(events: SseEvent[], from = 0): void {
  const ids = lineEvents(events).map((e) => Number(e.id));
  assert.deepEqual(
    ids,
    Array.from({ length: ids.length }, (_, i) => from + i),
    'ids are consecutive, without gap or duplicate',
  );
}

const terminal = (events: SseEvent[]) => events.filter((e) => e.event !== undefined && e.event !== 'dropped');

/** Polls `probe` until it returns true; fails after `ms`. */
async function eventually(what: string, ms: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await probe()) return;
    } catch (err) {
      lastError = err;
    }
    await sleep(100);
  }
  throw new Error(`${what}: not within ${ms} ms${lastError === undefined ? '' : ` (last error: ${String(lastError)})`}`);
}

describe('scale-out: two server processes on one Redis', function () {
  this.timeout(60_000);
  let redis: TestRedis | null = null;
  let admin: Redis | undefined;
  let s3: S3rverHandle | undefined;
  /** One instance's settings: streams on `redisUrl`, blobs on the shared s3rver (each keeps its own unused LMDB dir). */
  const instanceEnv = (redisUrl: string): Record<string, string> => ({
    LOG_SERVICE_REDIS_URL: redisUrl,
    LOG_SERVICE_S3_BUCKET: s3!.bucket,
    LOG_SERVICE_S3_ENDPOINT: s3!.endpoint,
    LOG_SERVICE_S3_PATH_STYLE: 'true',
    LOG_SERVICE_S3_ACCESS_KEY_ID: s3!.config.accessKeyId!,
    LOG_SERVICE_S3_SECRET_ACCESS_KEY: s3!.config.secretAccessKey!,
    LOG_SERVICE_PING_INTERVAL_SECONDS: '0.5',
    LOG_SERVICE_STREAM_CLOSED_GRACE_SECONDS: '30',
    LOG_SERVICE_LOG_LEVEL: 'error',
  });
  let a: ServerProcess | undefined;
  let b: ServerProcess | undefined;
  const viewers: SseSession[] = [];

  const A = () => a!;
  const B = () => b!;
  async function view(url: string, headers: Record<string, string> = {}): Promise<SseSession> {
    const sse = await openSse(url, headers);
    viewers.push(sse);
    return sse;
  }

  /** Connections the service opened (ioredis names them log-service-command / log-service-reader). */
  async function serviceConnections(client: Redis = admin!): Promise<string[]> {
    const list = String(await client.call('CLIENT', 'LIST'));
    return list
      .split('\n')
      .map((l) => /\bname=(\S*)/.exec(l)?.[1] ?? '')
      .filter((n) => n.startsWith('log-service'));
  }

  before(async function () {
    this.timeout(60_000);
    redis = await startRedis();
    if (redis === null) this.skip();
    admin = new Redis(redis.url, { lazyConnect: false, maxRetriesPerRequest: 1 });
    admin.on('error', () => {});
    // Blobs on S3 (s3rver), as a real scale-out runs: a snapshot taken by B is read through A.
    // Each instance keeps its own (unused) LMDB directory: README, never share one.
    s3 = await startS3rver();
    const env = instanceEnv(redis.url);
    [a, b] = await Promise.all([startServer(env), startServer(env)]);
  });

  afterEach(() => {
    for (const v of viewers.splice(0)) v.close();
  });

  after(async function () {
    this.timeout(60_000);
    for (const v of viewers.splice(0)) v.close();
    await Promise.all([a?.stop(), b?.stop()]);
    admin?.disconnect();
    await redis?.stop().catch(() => {});
    await s3?.stop();
  });

  it('gives a viewer on B every line pushed in batches alternately through A and B, in order, with ids 0..N-1', async () => {
    const key = newKey();
    assert.equal((await call('POST', ciStream(A(), key))).status, 204);
    const viewer = await view(ciStream(B(), key));
    assert.equal(viewer.status, 200);
    const expected: string[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const via = batch % 2 === 0 ? A() : B();
      const batchLines = lines(`batch ${batch} via ${via === A() ? 'A' : 'B'}`, 7 + batch);
      assert.equal((await push(ciStream(via, key), batchLines)).status, 204);
      expected.push(...batchLines);
    }
    const events = await viewer.until((evs) => lineEvents(evs).length >= expected.length);
    assert.deepEqual(outs(events), expected);
    assertConsecutiveIds(events);
    assert.equal(terminal(events).length, 0, 'the stream is still open');
  });

  it('numbers lines pushed concurrently through A and B once each, consecutively, keeping every batch contiguous', async () => {
    const key = newKey();
    assert.equal((await call('POST', ciStream(B(), key))).status, 204);
    const viewer = await view(ciStream(B(), key));
    const batches = Array.from({ length: 12 }, (_, i) => lines(`concurrent ${i}`, 20));
    const replies = await Promise.all(batches.map((batch, i) => push(ciStream(i % 2 === 0 ? A() : B(), key), batch)));
    assert.deepEqual(
      replies.map((r) => r.status),
      batches.map(() => 204),
    );
    const total = batches.length * 20;
    const events = await viewer.until((evs) => lineEvents(evs).length >= total);
    assertConsecutiveIds(events);
    const got = outs(events);
    assert.equal(got.length, total);
    for (let start = 0; start < total; start += 20) {
      const batch = batches.find((bt) => bt[0] === got[start]);
      assert.ok(batch !== undefined, `a batch starts at seq ${start}`);
      assert.deepEqual(got.slice(start, start + 20), batch, 'a batch is never split by another');
    }
  });

  it("ends B's CI viewers promptly with event: eof when A closes the stream", async () => {
    const key = newKey();
    assert.equal((await call('POST', ciStream(A(), key))).status, 204);
    assert.equal((await push(ciStream(A(), key), lines('before close', 3))).status, 204);
    const onB = [await view(ciStream(B(), key)), await view(ciStream(B(), key))];
    for (const v of onB) await v.until((evs) => lineEvents(evs).length === 3);
    // Let B's fan-out settle into its blocking read: the close must wake it, not its BLOCK timeout.
    await sleep(300);
    const closedAt = Date.now();
    assert.equal((await call('DELETE', ciStream(A(), key))).status, 204);
    for (const v of onB) {
      await v.ended(3000);
      assert.ok(v.raw().endsWith('event: eof\ndata: eof\n\n'), v.raw().slice(-60));
      assertConsecutiveIds(v.events());
      assert.equal(lineEvents(v.events()).length, 3);
    }
    assert.ok(Date.now() - closedAt < 2000, `B's viewers ended ${Date.now() - closedAt} ms after the close`);
  });

  it("ends B's Harness viewers promptly with event: error / data: eof when A closes the stream", async () => {
    const key = `h-${RUN}-${counter++}/stage/step`;
    assert.equal((await call('POST', hStream(A(), key))).status, 204);
    const viewer = await view(hStream(B(), key));
    assert.equal((await push(hStream(A(), key), lines('harness', 2))).status, 204);
    await viewer.until((evs) => lineEvents(evs).length === 2);
    await sleep(300);
    const closedAt = Date.now();
    assert.equal((await call('DELETE', hStream(A(), key))).status, 204);
    await viewer.ended(3000);
    assert.ok(Date.now() - closedAt < 2000, `B's viewer ended ${Date.now() - closedAt} ms after the close`);
    assert.ok(viewer.raw().endsWith('event: error\ndata: eof\n\n'), viewer.raw().slice(-60));
    assert.deepEqual(outs(viewer.events()), lines('harness', 2));
  });

  it('lets a viewer move from A to B with Last-Event-ID and continue with no gap and no duplicate', async () => {
    const key = newKey();
    assert.equal((await call('POST', ciStream(A(), key))).status, 204);
    const first = lines('first', 25);
    const second = lines('second', 25);
    const third = lines('third', 10);
    assert.equal((await push(ciStream(A(), key), first)).status, 204);
    const onA = await view(ciStream(A(), key));
    const seenOnA = await onA.until((evs) => lineEvents(evs).length >= first.length);
    const lastId = lineEvents(seenOnA).at(-1)!.id!;
    onA.close(); // the load balancer's next pick is B
    // Lines pushed while the viewer is away, through both instances.
    assert.equal((await push(ciStream(B(), key), second)).status, 204);
    const onB = await view(ciStream(B(), key), { 'Last-Event-ID': lastId });
    assert.equal((await push(ciStream(A(), key), third)).status, 204);
    assert.equal((await call('DELETE', ciStream(B(), key))).status, 204);
    await onB.ended(5000);
    assertConsecutiveIds(onB.events(), Number(lastId) + 1);
    assert.deepEqual([...outs(seenOnA), ...outs(onB.events())], [...first, ...second, ...third]);
    assert.equal(terminal(onB.events()).at(-1)?.event, 'eof');
    // ?from= is the same resume point for clients that cannot set headers.
    const fromQuery = await view(ciStream(A(), key, `?from=${lastId}`));
    await fromQuery.ended(5000);
    assert.deepEqual(outs(fromQuery.events()), [...second, ...third]);
  });

  it('snapshots on close from any instance: opened on A, pushed on B, closed with snapshot=true on B, the blob is readable from A and B', async () => {
    const key = newKey();
    const hKey = key; // the CI key is the Harness key too: both route families name the same stream
    assert.equal((await call('POST', ciStream(A(), key))).status, 204);
    const pushed = lines('snapshot', 40);
    assert.equal((await push(ciStream(B(), key), pushed.slice(0, 20))).status, 204);
    assert.equal((await push(ciStream(A(), key), pushed.slice(20))).status, 204);
    assert.equal((await call('DELETE', ciStream(B(), key, '?snapshot=true'))).status, 204);
    for (const s of [B(), A()]) {
      const blob = await call('GET', ciBlob(s, key));
      assert.equal(blob.status, 200, `GET blob on ${s === A() ? 'A' : 'B'}: ${blob.text}`);
      const records = blob.text
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as { out: string; pos: number });
      assert.deepEqual(
        records.map((r) => r.out),
        pushed,
      );
      assert.deepEqual(
        records.map((r) => r.pos),
        pushed.map((_, i) => i),
      );
      // default account, so the Harness route needs accountID=default to see the same blob
      assert.equal((await call('GET', `${s.url}/blob/exists?accountID=default&key=${encodeURIComponent(hKey)}`)).text, 'true');
    }
    // And the closed stream still tails, from any instance, to its terminal event.
    const late = await view(ciStream(A(), key));
    await late.ended(5000);
    assert.deepEqual(outs(late.events()), pushed);
    assert.equal(terminal(late.events()).at(-1)?.event, 'eof');
  });

  it('serves 50 SSE viewers on one instance with a fixed number of Redis connections', async () => {
    const before = await serviceConnections();
    // Two instances × (one command + one reader connection).
    assert.equal(before.length, 4, `service connections before: ${before.join(', ')}`);
    const keys = Array.from({ length: 5 }, () => newKey());
    for (const key of keys) assert.equal((await call('POST', ciStream(B(), key))).status, 204);
    const crowd: SseSession[] = [];
    for (let i = 0; i < 50; i++) crowd.push(await view(ciStream(A(), keys[i % keys.length]!)));
    assert.ok(crowd.every((v) => v.status === 200));
    // Every viewer gets live lines pushed through the other instance.
    for (const key of keys) assert.equal((await push(ciStream(B(), key), lines(key, 5))).status, 204);
    await Promise.all(crowd.map((v) => v.until((evs) => lineEvents(evs).length === 5)));
    const during = await serviceConnections();
    assert.deepEqual(during.sort(), before.sort(), 'no connection per viewer or per stream');
    const info = (await call('GET', `${A().url}/ci/streams`)).json().streams as Record<string, { subscribers: number }>;
    for (const key of keys) assert.equal(info[key]?.subscribers, 10, `subscribers of ${key} on A`);
    for (const v of crowd) v.close();
    await eventually('A counts no subscribers once the viewers left', 5000, async () => {
      const after = (await call('GET', `${A().url}/ci/streams`)).json().streams as Record<string, { subscribers: number }>;
      return keys.every((k) => after[k]?.subscribers === 0);
    });
    assert.equal((await serviceConnections()).length, 4);
  });

  it('lists on B a stream opened on A, with each instance counting only its own subscribers', async () => {
    const key = `info-${RUN}-${counter++}/stage/step`;
    assert.equal((await call('POST', hStream(A(), key, '&timeout_seconds=600'))).status, 204);
    assert.equal((await push(hStream(A(), key), lines('info', 6))).status, 204);
    const onA = [await view(hStream(A(), key)), await view(hStream(A(), key)), await view(hStream(A(), key))];
    const onB = await view(hStream(B(), key));
    await Promise.all([...onA, onB].map((v) => v.until((evs) => lineEvents(evs).length === 6)));
    const infoOn = async (s: ServerProcess) => {
      const reply = await call('GET', `${s.url}/stream/info?accountID=${ACCOUNT}`);
      assert.equal(reply.status, 200, reply.text);
      return (reply.json().streams as Record<string, { size: number; subscribers: number; ttl: string }>)[key];
    };
    const [onInfoA, onInfoB] = [await infoOn(A()), await infoOn(B())];
    assert.ok(onInfoB !== undefined, 'B lists the stream opened on A');
    assert.equal(onInfoB.size, 6);
    assert.equal(onInfoB.subscribers, 1, 'B counts its own viewer');
    assert.equal(onInfoA?.size, 6);
    assert.equal(onInfoA?.subscribers, 3, 'A counts its own three viewers');
    assert.match(onInfoB.ttl, /^\d/);
    // Another account's listing does not show it.
    const other = (await call('GET', `${B().url}/stream/info?accountID=other-${RUN}`)).json().streams as Record<string, unknown>;
    assert.equal(other[key], undefined);
    // Once closed (on B), neither instance lists it.
    assert.equal((await call('DELETE', hStream(B(), key))).status, 204);
    assert.equal(await infoOn(A()), undefined);
    assert.equal(await infoOn(B()), undefined);
  });

  describe('when Redis goes away and comes back', () => {
    // Its own private redis-server and its own pair of processes, always: the
    // test stops and restarts Redis, which must never be the shared (or an
    // external REDIS_URL) one the other tests use.
    let own: TestRedis | null = null;
    let ownAdmin: Redis | undefined;
    let oa: ServerProcess | undefined;
    let ob: ServerProcess | undefined;
    const A = () => oa!;
    const B = () => ob!;
    const ownConnections = () => serviceConnections(ownAdmin!);

    before(async function () {
      this.timeout(60_000);
      // REDIS_URL: '' makes startRedis start a private server even when REDIS_URL is set;
      // under CI=true it throws when it cannot.
      try {
        own = await startRedis({ ...process.env, REDIS_URL: '' });
      } catch (err) {
        throw new Error(`the Redis outage test needs a private redis-server (REDIS_URL is not enough): ${(err as Error).message}`, { cause: err });
      }
      if (own === null || !own.controllable) {
        if (process.env.CI === 'true') throw new Error('the Redis outage test needs a private redis-server under CI=true');
        console.warn('\n*** WARNING: no private redis-server could be started: the Redis outage test is SKIPPED ***\n');
        this.skip();
      }
      ownAdmin = new Redis(own.url, { lazyConnect: false, maxRetriesPerRequest: 1 });
      ownAdmin.on('error', () => {}); // the test stops this Redis under the client on purpose
      // Blobs on the same s3rver as the pair above, never one LMDB file for two processes.
      const env = instanceEnv(own.url);
      [oa, ob] = await Promise.all([startServer(env), startServer(env)]);
    });

    after(async function () {
      this.timeout(60_000);
      for (const v of viewers.splice(0)) v.close();
      await Promise.all([oa?.stop(), ob?.stop()]);
      ownAdmin?.disconnect();
      await own?.stop().catch(() => {});
    });

    it('answers 503 LOGSVC_BACKEND_UNAVAILABLE for streams, stays live with blobs working, ends open tails, and recovers by itself', async function () {
      this.timeout(90_000);
      const key = newKey();
      const blobKey = `blob-${RUN}-${counter++}/stage/step`;
      assert.equal((await call('POST', ciStream(A(), key))).status, 204);
      assert.equal((await push(ciStream(A(), key), lines('pre-outage', 4))).status, 204);
      assert.equal((await call('PUT', hBlob(A(), blobKey), 'stored before the outage', 'text/plain')).status, 204);
      const tails = [await view(ciStream(B(), key)), await view(ciStream(A(), key))];
      await Promise.all(tails.map((t) => t.until((evs) => lineEvents(evs).length === 4)));

      await own!.stop();

      // Stream operations fail fast with the catalogue's 503 on both instances.
      for (const s of [A(), B()]) {
        let reply: Reply | undefined;
        await eventually('push answers 503', 10_000, async () => {
          reply = await push(ciStream(s, key), ['during outage\n']);
          return reply.status === 503;
        });
        assert.equal(reply!.json().error_code, 'LOGSVC_BACKEND_UNAVAILABLE', reply!.text);
        const open = await call('POST', ciStream(s, newKey()));
        assert.equal(open.status, 503, open.text);
        assert.equal(open.json().error_code, 'LOGSVC_BACKEND_UNAVAILABLE');
        const close = await call('DELETE', ciStream(s, key));
        assert.equal(close.status, 503, close.text);
        const newTail = await call('GET', ciStream(s, key));
        assert.equal(newTail.status, 503, newTail.text);
        assert.equal(newTail.json().error_code, 'LOGSVC_BACKEND_UNAVAILABLE');
        const info = await call('GET', `${s.url}/stream/info?accountID=${ACCOUNT}`);
        assert.equal(info.status, 503, info.text);

        const ready = await call('GET', `${s.url}/ready/healthz`);
        assert.equal(ready.status, 503, ready.text);
        assert.equal(ready.json().error_code, 'LOGSVC_BACKEND_UNAVAILABLE');
        assert.equal((await call('GET', `${s.url}/healthz`)).status, 200);

        // Blobs live in S3: unaffected.
        const existing = await call('GET', hBlob(s, blobKey));
        assert.equal(existing.status, 200, existing.text);
        assert.equal(existing.text, 'stored before the outage');
        const fresh = `${blobKey}-${s === A() ? 'a' : 'b'}`;
        assert.equal((await call('PUT', hBlob(s, fresh), `written during the outage via ${s.port}`, 'text/plain')).status, 204);
        assert.equal((await call('GET', hBlob(s, fresh))).text, `written during the outage via ${s.port}`);
      }

      // Open tails end (no terminal event: the stream did not end; the viewer reconnects with Last-Event-ID).
      for (const t of tails) {
        await t.ended(15_000);
        assert.equal(terminal(t.events()).length, 0, `a tail cut by the outage gets no eof: ${t.raw().slice(-80)}`);
        assertConsecutiveIds(t.events());
      }
      assert.equal(A().process.exitCode, null, `A exited:\n${A().output()}`);
      assert.equal(B().process.exitCode, null, `B exited:\n${B().output()}`);
      assert.equal(A().process.signalCode, null);
      assert.equal(B().process.signalCode, null);

      await own!.restart();

      // Both processes recover on their own (the private Redis came back empty).
      for (const s of [A(), B()]) {
        await eventually(`ready on ${s.port} after Redis came back`, 20_000, async () => (await call('GET', `${s.url}/ready/healthz`)).status === 200);
      }
      const after = newKey();
      await eventually('open works again', 10_000, async () => (await call('POST', ciStream(A(), after))).status === 204);
      const viewer = await view(ciStream(B(), after));
      assert.equal(viewer.status, 200);
      const expected = [...lines('after A', 3), ...lines('after B', 3)];
      assert.equal((await push(ciStream(A(), after), expected.slice(0, 3))).status, 204);
      assert.equal((await push(ciStream(B(), after), expected.slice(3))).status, 204);
      await viewer.until((evs) => lineEvents(evs).length === expected.length, 10_000);
      assert.equal((await call('DELETE', ciStream(A(), after))).status, 204);
      await viewer.ended(5000);
      assert.deepEqual(outs(viewer.events()), expected);
      assertConsecutiveIds(viewer.events());
      assert.equal(terminal(viewer.events()).at(-1)?.event, 'eof');
      // Reconnects replaced connections instead of piling them up.
      await eventually('back to 4 service connections', 10_000, async () => (await ownConnections()).length === 4);
      assert.equal(A().process.exitCode, null);
      assert.equal(B().process.exitCode, null);
    });
  });
});
