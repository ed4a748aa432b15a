// Many go-scribe instances without a mediator (docs/SCRIBE.md §4): two servers
// on one real Redis, producers spread over both as a load balancer would. The
// stream is one, in one order; each instance's file holds the lines that
// reached it, in the stream's order.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@grpc/grpc-js';
import { decode, encode, text } from './support/protobuf-wire.ts';
import { callRaw, rawClient } from './support/raw-grpc.ts';
import { startRedis, type TestRedis } from './support/redis-server.ts';
import { startTestServer, type TestServer } from './support/in-process-server.ts';

const LOG = '/com.romanostrechlis.scribe.api.LogScribe/Log';

const logRequest = (line: string) =>
  encode([
    [1, 'shared'],
    [2, 'fleet'],
    [3, line],
  ]);

describe('go-scribe on two instances sharing Redis', function () {
  let redis: TestRedis | null = null;
  const servers: TestServer[] = [];
  const clients: Client[] = [];
  const dirs: string[] = [];

  before(async function () {
    redis = await startRedis();
    if (redis === null) this.skip();
    for (let i = 0; i < 2; i++) {
      const dir = mkdtempSync(join(tmpdir(), `logsvc-scribe-redis-${i}-`));
      dirs.push(dir);
      const server = await startTestServer({ LOG_SERVICE_REDIS_URL: redis.url, LOG_SERVICE_GRPC_BIND: '127.0.0.1:0', LOG_SERVICE_SCRIBE_DIR: dir });
      servers.push(server);
      clients.push(rawClient(`127.0.0.1:${server.grpcPort}`));
    }
  });
  after(async () => {
    for (const client of clients) client.close();
    for (const server of servers) await server.destroy();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    await redis?.stop().catch(() => {});
  });

  it('keeps one stream in one order, and each instance’s file in that order', async () => {
    // No line first: every caller's first line, on both instances at once, finds the stream not open and opens it;
    // those opens keep a stream that is open (keepOpen), so none of them empties it.
    const callers = 10;
    const each = 20;
    await Promise.all(
      Array.from({ length: callers }, async (_, c) => {
        for (let i = 0; i < each; i++) {
          const answer = decode(await callRaw(clients[(c + i) % 2]!, LOG, logRequest(`c${c}-${i}`)));
          assert.equal(text(answer, 1), 'true');
        }
      }),
    );
    const stream: string[] = [];
    for await (const line of servers[1]!.services.context.stream.lines('default/fleet/shared')) {
      stream.push((JSON.parse(line.event.subarray(line.jsonStart, line.event.length - 2).toString()) as { out: string }).out.slice(0, -1));
    }
    assert.equal(stream.length, callers * each);
    for (let c = 0; c < callers; c++) {
      assert.deepEqual(
        stream.filter((l) => l.startsWith(`c${c}-`)),
        Array.from({ length: each }, (_, i) => `c${c}-${i}`),
      );
    }
    const files = dirs.map((dir) => readFileSync(join(dir, 'fleet/shared.log'), 'utf8').split('\n').slice(0, -1));
    assert.equal(files[0]!.length + files[1]!.length, callers * each);
    for (const file of files) {
      const positions = file.map((l) => stream.indexOf(l));
      assert.ok(
        positions.every((p, i) => p >= 0 && (i === 0 || p > positions[i - 1]!)),
        'a file holds its lines in the stream’s order',
      );
    }
  });
});
