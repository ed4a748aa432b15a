// The live archive across processes (docs/ARCHIVE.md §5–7), on real server
// processes: a kill -9 mid-stream loses at most the last unwritten chunk;
// memory per stream stays at the ring's bound while the log grows; on Redis,
// another instance takes over the archive when its writer stops.
import assert from 'node:assert/strict';
import { rssAnonMb } from './support/process-memory.ts';
import { countSse } from './support/log-readers.ts';
import { startRedis, type TestRedis } from './support/redis-server.ts';
import { startS3rver, type S3rverHandle } from './support/s3rver.ts';
import { startServer, type ServerProcess } from './support/server-process.ts';

const lineText = (seq: number): string => `${String(seq).padStart(8, '0')} ${'x'.repeat(90)}\n`;

function logText(from: number, to: number): string {
  let text = '';
  for (let seq = from; seq < to; seq++) text += lineText(seq);
  return text;
}

/** `json`: a JSON array of line objects, as Harness clients push, which the archive stores as sent (docs/ARCHIVE.md §2). */
async function push(url: string, from: number, to: number, format: 'text' | 'json' = 'text'): Promise<void> {
  const body = format === 'text' ? logText(from, to) : JSON.stringify(Array.from({ length: to - from }, (_, i) => ({ out: lineText(from + i) })));
  const res = await fetch(url, { method: 'PUT', body, headers: { 'Content-Type': format === 'text' ? 'text/plain' : 'application/json' } });
  assert.equal(res.status, 204);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the live archive across processes', function () {
  this.timeout(60_000);

  for (const format of ['text', 'json'] as const) {
    it(`loses at most the last unwritten chunk when the server is killed with SIGKILL mid-stream (${format} pushes)`, async () => {
      await killedMidStream(format);
    });
  }

  async function killedMidStream(format: 'text' | 'json'): Promise<void> {
    const server = await startServer({ LOG_SERVICE_STREAM_MAX_LINES: '1000' });
    try {
      const url = `${server.url}/ci/p/crash/s/t/stream`;
      assert.equal((await fetch(url, { method: 'POST' })).status, 204);
      // 100 lines every 10 ms (~10,000 lines a second) for 3 s; each ack remembered with its time.
      const acks: { at: number; lines: number }[] = [];
      let acked = 0;
      const until = Date.now() + 3000;
      while (Date.now() < until) {
        await push(url, acked, acked + 100, format);
        acked += 100;
        acks.push({ at: Date.now(), lines: acked });
        await sleep(10);
      }
      server.kill('SIGKILL');
      const killedAt = Date.now();
      await server.exited();
      await server.restart();
      // The stream is gone with the process; its chunks are served as its log.
      const sse = await countSse(url);
      await sse.until(acked, 10_000);
      await sse.until(Infinity, 2000).catch(() => undefined); // to its end
      assert.deepEqual(sse.dropped, []);
      assert.equal(sse.outOfOrder, undefined);
      const kept = sse.next;
      const lost = acked - kept;
      // One chunk: 256 KiB of line JSON (~1,600 of these lines) or the lines of its last second (CHUNK_MS),
      // plus the time its write takes: lines acked in the last 1.5 s.
      const recent = acked - (acks.findLast((a) => a.at <= killedAt - 1500)?.lines ?? 0);
      assert.ok(lost >= 0 && lost <= Math.max(recent, 1600), `lost ${lost} of ${acked} acked lines (${recent} acked in the last 1.5 s)`);
      sse.close();
    } finally {
      await server.stop();
    }
  }

  it('keeps the memory per stream at the ring bound while the log grows to 1 GB, and serves any offset of it', async function () {
    this.timeout(240_000);
    // The anonymous memory after 1 GB of log is no more than after 256 MB (plus noise), not 768 MB more:
    // the ring keeps 1,000 lines, the rest is in the archive's chunks on disk.
    const server = await startServer({ LOG_SERVICE_STREAM_MAX_LINES: '1000' });
    try {
      const url = `${server.url}/ci/p/big/s/t/stream`;
      assert.equal((await fetch(url, { method: 'POST' })).status, 204);
      // 1 MiB a push: 256 lines of exactly 4,096 bytes, each starting with its number.
      const LINE = 4096;
      const PER_PUSH = 256;
      const PUSHES = 1024;
      const line = (n: number) => `${String(n).padStart(10, '0')} ${'m'.repeat(LINE - 12)}\n`;
      const body = (i: number) => Array.from({ length: PER_PUSH }, (_, j) => line(i * PER_PUSH + j)).join('');
      let at256 = 0;
      for (let i = 0; i < PUSHES; i++) {
        const r = await fetch(url, { method: 'PUT', body: body(i), headers: { 'Content-Type': 'text/plain' } });
        assert.equal(r.status, 204);
        if (i === PUSHES / 4) at256 = rssAnonMb(server.process.pid!);
      }
      await sleep(1500);
      const at1024 = rssAnonMb(server.process.pid!);
      assert.ok(at1024 - at256 < 40, `RssAnon grew by ${(at1024 - at256).toFixed(1)} MB from 256 MB to 1 GB of log`);
      // Any offset of the live log, the ring long past it: from the chunk that holds it.
      const raw = `${server.url}/ci/p/big/s/t/raw`;
      for (const n of [3, 131_072, 262_000]) {
        const ac = new AbortController();
        const res = await fetch(`${raw}?offset=${n * LINE + 11}`, { signal: ac.signal });
        assert.equal(res.headers.get('x-log-offset'), String(n * LINE + 11));
        const reader = res.body!.getReader();
        let got = '';
        while (got.length < LINE) {
          const { value, done } = await reader.read();
          if (done) break;
          got += Buffer.from(value).toString('latin1');
        }
        ac.abort();
        assert.equal(got.slice(0, LINE), line(n).slice(11) + line(n + 1).slice(0, 11));
      }
      const tail = new AbortController();
      const last = await fetch(`${raw}?offset=-${LINE}`, { signal: tail.signal });
      assert.equal(last.headers.get('x-log-offset'), String((PUSHES * PER_PUSH - 1) * LINE));
      const lastReader = last.body!.getReader();
      let lastText = '';
      while (lastText.length < LINE) lastText += Buffer.from((await lastReader.read()).value!).toString('latin1');
      tail.abort();
      assert.equal(lastText, line(PUSHES * PER_PUSH - 1));
    } finally {
      await server.stop();
    }
  });

  describe('on Redis', function () {
    let redis: TestRedis | null = null;
    let s3: S3rverHandle | undefined;
    let a: ServerProcess | undefined;
    let b: ServerProcess | undefined;

    before(async function () {
      this.timeout(60_000);
      redis = await startRedis({ ...process.env, REDIS_URL: '' });
      if (redis === null) this.skip();
      s3 = await startS3rver();
      const env = {
        LOG_SERVICE_REDIS_URL: redis.url,
        LOG_SERVICE_S3_BUCKET: s3.bucket,
        LOG_SERVICE_S3_ENDPOINT: s3.endpoint,
        LOG_SERVICE_S3_PATH_STYLE: 'true',
        LOG_SERVICE_S3_ACCESS_KEY_ID: s3.config.accessKeyId!,
        LOG_SERVICE_S3_SECRET_ACCESS_KEY: s3.config.secretAccessKey!,
        LOG_SERVICE_STREAM_MAX_LINES: '1000',
        LOG_SERVICE_SHUTDOWN_GRACE_SECONDS: '1',
      };
      [a, b] = await Promise.all([startServer(env), startServer(env)]);
    });
    after(async () => {
      await a?.stop();
      await b?.stop();
      await s3?.stop();
      await redis?.stop();
    });

    it('hands the archive to another instance when its writer stops, and a late joiner gets every line', async () => {
      const path = '/ci/p/lease/s/t/stream';
      assert.equal((await fetch(`${a!.url}${path}`, { method: 'POST' })).status, 204);
      for (let seq = 0; seq < 5000; seq += 500) {
        await push(`${a!.url}${path}`, seq, seq + 500);
        await sleep(10);
      }
      // A (which opened the stream and holds the lease) stops: it writes what it read and gives the lease back.
      a!.kill('SIGTERM');
      await a!.exited();
      // B's pushes find no writer and take the lease; B goes on after the last chunk A wrote.
      for (let seq = 5000; seq < 10_000; seq += 500) {
        await push(`${b!.url}${path}`, seq, seq + 500);
        await sleep(10);
      }
      const sse = await countSse(`${b!.url}${path}`);
      await sse.until(10_000, 20_000);
      assert.deepEqual(sse.dropped, [], 'the ring holds the last 1,000 lines; the rest came from the archive of both writers');
      assert.equal(sse.outOfOrder, undefined);
      assert.equal(sse.next, 10_000);
      sse.close();
    });
  });
});
