// logservice.v1.LogStreams over real sockets (docs/GRPC.md): every RPC, the
// auth matrix, bad input, the bounds, deadlines and cancellation, dropped
// ranges for a reader that stopped, health and reflection — against a real
// server (in this process) with auth on, through @grpc/grpc-js clients built
// from the repo's .proto.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GRPC_STATUS } from '../grpc/status-mapping.ts';
import { mintAccountToken } from '../handler/account-token.ts';
import { startTestServer, type TestServer } from './support/in-process-server.ts';
import {
  closeClient,
  failureOf,
  grpc,
  linesOf,
  logStreamsClient,
  push,
  tail,
  tailAll,
  tokenMetadata,
  unary,
  unaryFailure,
  until,
  type LogStreamsClient,
} from './support/grpc-client.ts';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as healthProto } from 'grpc-health-check';

const GLOBAL = 'grpc-global-token';
const SECRET = 'grpc-secret';
let counter = 0;
const newKey = () => `proj/b${counter++}/stage/step`;
const now = () => Math.floor(Date.now() / 1000);
const accountToken = (account: string, ttl = 600, scope?: { access: 'read' | 'write'; keyPrefix: string }) =>
  mintAccountToken(SECRET, { accountID: account, expiresAtSeconds: now() + ttl, scope });

describe('gRPC: logservice.v1.LogStreams', function () {
  this.timeout(30_000);
  let server: TestServer;
  let client: LogStreamsClient;
  const admin = () => tokenMetadata(GLOBAL);

  before(async () => {
    server = await startTestServer({
      LOG_SERVICE_GRPC_BIND: '127.0.0.1:0',
      LOG_SERVICE_GLOBAL_TOKEN: GLOBAL,
      LOG_SERVICE_SECRET: SECRET,
      LOG_SERVICE_STREAM_MAX_LINES: '200',
      LOG_SERVICE_MAX_PUSH_LINES: '200',
      LOG_SERVICE_PING_INTERVAL_SECONDS: '0.2',
      LOG_SERVICE_MAX_TAILS_PER_ACCOUNT: '3',
    });
    client = logStreamsClient(`127.0.0.1:${server.grpcPort}`);
  });
  after(async () => {
    closeClient(client);
    await server.destroy();
  });

  it('opens, pushes with one ack per batch, lists, tails from every start, and closes with an End', async () => {
    const key = newKey();
    await unary(client, 'Open', { accountId: 'acme', key }, admin());
    const pushed = await push(
      client,
      [
        { accountId: 'acme', key, lines: [{ out: 'one\n' }, { out: 'two\n', level: 'warn', args: { step: 'unit' } }] },
        { lines: [] },
        { lines: [{ out: 'three\n', time: '2026-01-02T03:04:05Z' }], pushId: 'batch-3' },
        // The same push_id again: stored once, acked with the same last seq.
        { lines: [{ out: 'three\n', time: '2026-01-02T03:04:05Z' }], pushId: 'batch-3' },
      ],
      admin(),
    );
    assert.equal(pushed.status.code, grpc.status.OK, pushed.status.details);
    assert.deepEqual(pushed.acks, [
      { lastSeq: 1, lines: 2 },
      { lastSeq: 1, lines: 0 },
      { lastSeq: 2, lines: 1 },
      { lastSeq: 2, lines: 1 },
    ]);
    const info = await unary<{ streams: Record<string, { size: number; held: number }> }>(client, 'Info', { accountId: 'acme' }, admin());
    assert.equal(info.streams[key]?.size, 3);
    assert.equal(info.streams[key]?.held, 3);

    const live = tail(client, { accountId: 'acme', key }, admin(), { deadline: Date.now() + 10_000 });
    await until('the history', 5000, () => linesOf(live.messages).length === 3);
    const fromSeq = tail(client, { accountId: 'acme', key, fromSeq: 0 }, admin(), { deadline: Date.now() + 10_000 });
    const last = tail(client, { accountId: 'acme', key, lastLines: 1 }, admin(), { deadline: Date.now() + 10_000 });
    await until('both starts', 5000, () => linesOf(fromSeq.messages).length === 2 && linesOf(last.messages).length === 1);
    await unary(client, 'Close', { accountId: 'acme', key }, admin());
    const [a, b, c] = await Promise.all([live.result, fromSeq.result, last.result]);
    assert.deepEqual(linesOf(a.messages), [
      { seq: 0, out: 'one\n' },
      { seq: 1, out: 'two\n' },
      { seq: 2, out: 'three\n' },
    ]);
    const two = a.messages.flatMap((m) => (m.event === 'lines' ? m.lines.lines : [])).find((l) => l.out === 'two\n');
    assert.equal(two?.level, 'warn');
    assert.deepEqual(two?.args, { step: 'unit' });
    assert.deepEqual(linesOf(b.messages), [
      { seq: 1, out: 'two\n' },
      { seq: 2, out: 'three\n' },
    ]);
    assert.deepEqual(linesOf(c.messages), [{ seq: 2, out: 'three\n' }]);
    for (const r of [a, b, c]) {
      assert.equal(r.status.code, grpc.status.OK);
      assert.equal(r.messages.at(-1)?.event, 'end', 'the last message is End');
    }
  });

  it('serves lines pushed over gRPC to an HTTP tail, and a closed stream with a snapshot from the blob with the same seqs', async () => {
    const key = newKey();
    await unary(client, 'Open', { key }, admin());
    await push(client, [{ key, lines: ['a\n', 'b\n', 'c\n'].map((out) => ({ out })) }], admin());
    await unary(client, 'Close', { key, snapshot: true }, admin());
    const res = await fetch(`${server.url}/ci/${key}/stream`, { headers: { 'X-Harness-Token': GLOBAL }, signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    assert.match(text, /id: 2\ndata: \{[^\n]*"out":"c\\n"/);
    assert.match(text, /event: eof/);
    // Past the closed grace period the stream is gone; the snapshot still serves it. Here: straight from the blob too.
    const fromBlob = await tailAll(client, { key, fromSeq: 0 }, admin());
    assert.deepEqual(linesOf(fromBlob.messages), [
      { seq: 1, out: 'b\n' },
      { seq: 2, out: 'c\n' },
    ]);
    assert.equal(fromBlob.messages.at(-1)?.event, 'end');
    const missing = await tailAll(client, { key: newKey() }, admin());
    assert.equal(missing.status.code, grpc.status.NOT_FOUND);
    assert.equal(missing.status.metadata.get('logsvc-code')[0], 'LOGSVC_STREAM_NOT_FOUND');
  });

  it('keeps an ASCII batch as sent (its archived chunk holds it as a JSON push), with the same lines, offsets and snapshot rows', async () => {
    const key = newKey();
    await unary(client, 'Open', { key }, admin());
    const big = 'z'.repeat(60_000);
    const batches = [
      // A control character: ASCII as JSON, written as a \u escape (its text is counted in bytes).
      [{ out: 'one\n' }, { out: 'two\n', level: 'warn', args: { step: 'unit' } }, { out: 'bell\u0007\n' }],
      // Not ASCII once written as JSON: encoded at push, as before.
      [{ out: 'café\n', time: '2026-01-02T03:04:05Z' }],
      [{ out: 'four\n', pos: 40 }],
      // Over 256 KiB as JSON: encoded at push (a push kept as sent goes into one chunk whole).
      Array.from({ length: 5 }, () => ({ out: `${big}\n` })),
    ];
    const pushed = await push(client, [{ key, lines: batches[0] }, ...batches.slice(1).map((lines) => ({ lines }))], admin());
    assert.equal(pushed.status.code, grpc.status.OK, pushed.status.details);
    // Nobody read the lines: the archive writer found the small ASCII batches as sent (a chunk is written within 1 s).
    const store = server.services.context.store;
    let chunks = '';
    await until('the chunks', 5000, async () => {
      chunks = '';
      for await (const entry of store.list(`~archive/default/${key}/`)) {
        const got = await store.get(entry.name);
        for await (const part of got!.body as AsyncIterable<Buffer>) chunks += part.toString('utf8');
      }
      return chunks.split(big).length - 1 === 5;
    });
    assert.equal(chunks.split('{"~push":').length - 1, 2, 'the two small ASCII batches are kept as sent');
    // Text offsets: "one\ntwo\nbell\u0007\n" is 14 bytes, "café\n" 6 more, "four\n" 5.
    const tailText = `four\n${`${big}\n`.repeat(5)}`;
    for (const [offset, expected] of [
      [14, `café\n${tailText}`],
      [20, tailText],
    ] as const) {
      const raw = await fetch(`${server.url}/ci/${key}/raw?offset=${offset}`, { headers: { 'X-Harness-Token': GLOBAL }, signal: AbortSignal.timeout(10_000) });
      const reader = raw.body!.getReader();
      const parts: Buffer[] = [];
      let bytes = 0;
      while (bytes < Buffer.byteLength(expected)) {
        const { value } = await reader.read();
        parts.push(Buffer.from(value!));
        bytes += value!.length;
      }
      await reader.cancel();
      assert.ok(Buffer.concat(parts).toString('utf8') === expected, `from byte ${offset}`);
    }
    await unary(client, 'Close', { key, snapshot: true }, admin());
    const blob = await fetch(`${server.url}/ci/${key}/blob`, { headers: { 'X-Harness-Token': GLOBAL }, signal: AbortSignal.timeout(10_000) });
    const rows = (await blob.text())
      .trimEnd()
      .split('\n')
      .map((row) => JSON.parse(row) as Record<string, unknown>);
    assert.deepEqual(
      rows.map(({ time, ...row }) => ({ ...row, timed: typeof time === 'string' })),
      [
        { level: 'info', pos: 0, out: 'one\n', timed: true },
        { level: 'warn', pos: 1, out: 'two\n', args: { step: 'unit' }, timed: true },
        { level: 'info', pos: 2, out: 'bell\u0007\n', timed: true },
        { level: 'info', pos: 3, out: 'café\n', timed: true },
        { level: 'info', pos: 40, out: 'four\n', timed: true },
        ...Array.from({ length: 5 }, (_, i) => ({ level: 'info', pos: 5 + i, out: `${big}\n`, timed: true })),
      ],
    );
    assert.equal(rows[3]!.time, '2026-01-02T03:04:05Z');
  });

  describe('the auth matrix: the same tokens and scopes as HTTP', () => {
    const key = 'auth/1/s/t';
    before(async () => {
      await unary(client, 'Open', { accountId: 'acme', key }, admin());
    });

    const cases: { name: string; metadata: () => grpc.Metadata; code: grpc.status; logsvc?: string }[] = [
      { name: 'no token', metadata: () => new grpc.Metadata(), code: grpc.status.UNAUTHENTICATED, logsvc: 'LOGSVC_UNAUTHORIZED' },
      { name: 'a wrong token', metadata: () => tokenMetadata('not-a-token'), code: grpc.status.UNAUTHENTICATED, logsvc: 'LOGSVC_FORBIDDEN' },
      { name: 'an expired token', metadata: () => tokenMetadata(accountToken('acme', -10)), code: grpc.status.UNAUTHENTICATED, logsvc: 'LOGSVC_TOKEN_EXPIRED' },
      {
        name: "another account's token",
        metadata: () => tokenMetadata(accountToken('other')),
        code: grpc.status.PERMISSION_DENIED,
        logsvc: 'LOGSVC_FORBIDDEN',
      },
      {
        name: 'a token scoped to reading',
        metadata: () => tokenMetadata(accountToken('acme', 600, { access: 'read', keyPrefix: 'auth/1' })),
        code: grpc.status.PERMISSION_DENIED,
        logsvc: 'LOGSVC_FORBIDDEN',
      },
      {
        name: 'a token scoped to another prefix',
        metadata: () => tokenMetadata(accountToken('acme', 600, { access: 'write', keyPrefix: 'auth/2' })),
        code: grpc.status.PERMISSION_DENIED,
        logsvc: 'LOGSVC_FORBIDDEN',
      },
      { name: 'the account token (x-harness-token)', metadata: () => tokenMetadata(accountToken('acme'), 'x-harness-token'), code: grpc.status.OK },
      {
        name: 'a matching scoped token',
        metadata: () => tokenMetadata(accountToken('acme', 600, { access: 'write', keyPrefix: 'auth/1' })),
        code: grpc.status.OK,
      },
      { name: 'the global token', metadata: () => admin(), code: grpc.status.OK },
    ];
    for (const c of cases) {
      it(`Push with ${c.name}: ${grpc.status[c.code]}`, async () => {
        const r = await push(client, [{ accountId: 'acme', key, lines: [{ out: 'x\n' }] }], c.metadata());
        assert.equal(r.status.code, c.code, r.status.details);
        if (c.logsvc !== undefined) assert.equal(r.status.metadata.get('logsvc-code')[0], c.logsvc);
        else assert.equal(r.acks.length, 1);
      });
    }

    it('checks Open, Close, Info and Tail the same way (no token, other account, wrong access)', async () => {
      const none = await unaryFailure(client, 'Open', { accountId: 'acme', key }, new grpc.Metadata());
      assert.equal(none.code, grpc.status.UNAUTHENTICATED);
      const other = await unaryFailure(client, 'Close', { accountId: 'acme', key }, tokenMetadata(accountToken('other')));
      assert.deepEqual([other.code, other.logsvc], [grpc.status.PERMISSION_DENIED, 'LOGSVC_FORBIDDEN']);
      const writeOnly = tokenMetadata(accountToken('acme', 600, { access: 'write', keyPrefix: 'auth/1' }));
      assert.equal((await unaryFailure(client, 'Info', { accountId: 'acme' }, writeOnly)).code, grpc.status.PERMISSION_DENIED);
      const t = await tailAll(client, { accountId: 'acme', key }, writeOnly);
      assert.equal(t.status.code, grpc.status.PERMISSION_DENIED);
      // The account token sees its account: account_id may be left empty.
      const own = await unary<{ streams: Record<string, unknown> }>(client, 'Info', {}, tokenMetadata(accountToken('acme')));
      assert.ok(own.streams[key] !== undefined);
    });
  });

  describe('bad input: INVALID_ARGUMENT saying what to fix, nothing stored', () => {
    const bad: [string, object, RegExp][] = [
      ['no key', {}, /key is required: set the request's key field/],
      ['a ".." segment', { key: 'a/../b' }, /"\." or "\.\." segments/],
      ['a leading "/"', { key: '/a' }, /must not start with "\/"/],
      ['a NUL', { key: 'a\u0000b' }, /control characters/],
      ['a key over 1024 bytes', { key: 'k'.repeat(1025) }, /longer than 1024 bytes/],
      ['a bad account', { accountId: 'a/b', key: 'k' }, /accountID must be/],
    ];
    for (const [what, request, message] of bad) {
      it(`refuses ${what}`, async () => {
        const f = await unaryFailure(client, 'Open', request, admin());
        assert.equal(f.code, grpc.status.INVALID_ARGUMENT);
        assert.match(f.details, message);
      });
    }

    it('refuses a bad line, a second stream in one call, both starts of a tail, and too long a ttl', async () => {
      const key = newKey();
      await unary(client, 'Open', { key }, admin());
      const badTime = await push(client, [{ key, lines: [{ out: 'ok\n' }] }, { lines: [{ out: 'x', time: 'yesterday' }] }], admin());
      assert.equal(badTime.status.code, grpc.status.INVALID_ARGUMENT);
      assert.match(badTime.status.details, /line 0: "time" must be an RFC 3339 timestamp/);
      assert.deepEqual(badTime.acks, [{ lastSeq: 0, lines: 1 }], 'the batch before stays stored and acked');
      const other = await push(
        client,
        [
          { key, lines: [] },
          { key: newKey(), lines: [{ out: 'x\n' }] },
        ],
        admin(),
      );
      assert.equal(other.status.code, grpc.status.INVALID_ARGUMENT);
      assert.match(other.status.details, /one Push call pushes to one stream/);
      const both = await tailAll(client, { key, fromSeq: 1, lastLines: 1 }, admin());
      assert.equal(both.status.code, grpc.status.INVALID_ARGUMENT);
      assert.match(both.status.details, /at most one of from_seq/);
      const ttl = await unaryFailure(client, 'Open', { key, timeoutSeconds: 30 * 24 * 3600 + 1 }, admin());
      assert.match(ttl.details, /timeout_seconds must be 0 \(the default\) or 1 to 2592000/);
      const info = await unary<{ streams: Record<string, { size: number }> }>(client, 'Info', {}, admin());
      assert.equal(info.streams[key]?.size, 1, 'only the good batch was stored');
    });

    it('refuses a batch over 10000 lines with RESOURCE_EXHAUSTED, and a message over 4 MiB before reading it', async () => {
      const key = newKey();
      await unary(client, 'Open', { key }, admin());
      const many = await push(client, [{ key, lines: Array.from({ length: 10_001 }, () => ({ out: '.' })) }], admin());
      assert.equal(many.status.code, grpc.status.RESOURCE_EXHAUSTED);
      assert.match(many.status.details, /at most 10000 lines: split the batch/);
      const huge = await push(client, [{ key, lines: [{ out: 'x'.repeat(4 * 1024 * 1024 + 10) }] }], admin());
      assert.equal(huge.status.code, grpc.status.RESOURCE_EXHAUSTED);
      const info = await unary<{ streams: Record<string, { size: number }> }>(client, 'Info', {}, admin());
      assert.equal(info.streams[key]?.size, 0);
    });
  });

  it('ends a tail at its deadline with DEADLINE_EXCEEDED and gives its slot back; a cancelled tail too', async () => {
    const key = newKey();
    await unary(client, 'Open', { accountId: 'slots', key }, admin());
    // The account has 3 tail slots: three tails that end by deadline or cancel, then three more, must all get one.
    for (let round = 0; round < 2; round++) {
      const tails = [0, 1, 2].map(() => tail(client, { accountId: 'slots', key }, admin(), { deadline: Date.now() + 300 }));
      const results = await Promise.all(tails.map((t) => t.result));
      for (const r of results) assert.equal(r.status.code, grpc.status.DEADLINE_EXCEEDED);
    }
    const cancelled = [0, 1, 2].map(() => tail(client, { accountId: 'slots', key }, admin()));
    await until('pings on every tail', 5000, () => cancelled.every((t) => t.messages.some((m) => m.event === 'ping')));
    const fourth = await tailAll(client, { accountId: 'slots', key }, admin(), 5000);
    assert.equal(fourth.status.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(fourth.status.metadata.get('logsvc-code')[0], 'LOGSVC_TOO_MANY_TAILS');
    for (const t of cancelled) t.call.cancel();
    await Promise.all(cancelled.map((t) => t.result));
    await until('the slots are free', 5000, () => server.services.context.tails.total() === 0);
  });

  it('gives a reader that stopped reading the lines the ring trimmed from the archive (no Dropped), then carries on to the End', async () => {
    const key = newKey();
    await unary(client, 'Open', { key }, admin());
    const reader = tail(client, { key }, admin(), { deadline: Date.now() + 20_000 });
    reader.call.pause();
    // 2000 lines of 2 KiB: far more than the reader's connection window, ten times what the stream keeps (200 lines).
    const big = 'y'.repeat(2048) + '\n';
    for (let i = 0; i < 10; i++) {
      const r = await push(client, [{ key, lines: Array.from({ length: 200 }, () => ({ out: big })) }], admin());
      assert.equal(r.status.code, grpc.status.OK);
    }
    await unary(client, 'Close', { key }, admin());
    reader.call.resume();
    const { messages, status } = await reader.result;
    assert.equal(status.code, grpc.status.OK);
    // The ring kept 200 lines; the rest come from the archive (docs/ARCHIVE.md): every seq, in order.
    assert.deepEqual(
      messages.filter((m) => m.event === 'dropped'),
      [],
    );
    const seqs = linesOf(messages).map((l) => l.seq);
    assert.deepEqual(
      seqs,
      Array.from({ length: 2000 }, (_, i) => i),
    );
    assert.equal(messages.at(-1)?.event, 'end');
  });

  it('a stream that falls behind its retention answers a resume from a trimmed seq from the archive, with no Dropped', async () => {
    const key = newKey();
    await unary(client, 'Open', { key }, admin());
    await push(client, [{ key, lines: Array.from({ length: 300 }, (_, i) => ({ out: `${i}\n` })) }], admin());
    await unary(client, 'Close', { key }, admin());
    const r = await tailAll(client, { key, fromSeq: 10 }, admin());
    // The ring keeps 200 of the 300 lines; the archive writer held the rest in the ring until it read them.
    assert.equal(
      r.messages.find((m) => m.event === 'dropped'),
      undefined,
    );
    const seqs = linesOf(r.messages).map((l) => l.seq);
    assert.deepEqual(
      seqs,
      Array.from({ length: 289 }, (_, i) => 11 + i),
    );
  });

  it('reports SERVING on grpc.health.v1.Health for the server and the service, and describes itself through reflection', async () => {
    const healthDef = loadSync(healthProto, { keepCase: true, enums: String });
    const Health = (grpc.loadPackageDefinition(healthDef) as unknown as { grpc: { health: { v1: { Health: new (...a: unknown[]) => grpc.Client } } } }).grpc
      .health.v1.Health;
    const health = new Health(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, CallableFunction>;
    try {
      for (const service of ['', 'logservice.v1.LogStreams']) {
        const answer = await new Promise<{ status: string }>((resolve, reject) =>
          health.Check!({ service }, (err: Error | null, value: { status: string }) => (err ? reject(err) : resolve(value))),
        );
        assert.equal(answer.status, 'SERVING', `health of "${service}"`);
      }
    } finally {
      grpc.closeClient(health);
    }
    const services = await listServices(`127.0.0.1:${server.grpcPort}`);
    // Every service on the port, go-scribe's and Log Streamer's included (CLIScribe shares its package with LogScribe).
    const scribe = ['LogScribe', 'Pinger', 'Register', 'CLIScribe'].map((s) => `com.romanostrechlis.scribe.api.${s}`);
    const streamer = ['LogStreamer', 'LogScribe', 'Pinger', 'Register'].map((s) => `api.${s}`);
    for (const name of ['logservice.v1.LogStreams', 'grpc.health.v1.Health', ...scribe, ...streamer])
      assert.ok(services.includes(name), `reflection lists ${name}: ${services.join(', ')}`);
  });
});

/** grpc.reflection.v1.ServerReflection/ServerReflectionInfo list_services, with a client from the reflection package's own proto. */
async function listServices(address: string): Promise<string[]> {
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  const protoFile = require.resolve('@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto');
  const def = loadSync(protoFile, { keepCase: true });
  const Reflection = (
    grpc.loadPackageDefinition(def) as unknown as { grpc: { reflection: { v1: { ServerReflection: new (...a: unknown[]) => grpc.Client } } } }
  ).grpc.reflection.v1.ServerReflection;
  const client = new Reflection(address, grpc.credentials.createInsecure()) as grpc.Client & Record<string, CallableFunction>;
  try {
    const call = client.ServerReflectionInfo!() as grpc.ClientDuplexStream<object, { list_services_response?: { service: { name: string }[] } }>;
    const answer = new Promise<string[]>((resolve, reject) => {
      call.on('data', (m) => resolve((m.list_services_response?.service ?? []).map((s: { name: string }) => s.name)));
      call.on('error', reject);
    });
    call.write({ list_services: '' });
    const names = await answer;
    call.end();
    return names;
  } finally {
    grpc.closeClient(client);
  }
}

void failureOf;

/**
 * The producer of the test below, a separate process: pushes batches of 50
 * lines on one Push call for ever, printing each ack's last seq, until killed.
 * Plain JavaScript on the repo's grpc-js and .proto (node -e, run from the repo's root).
 */
const PRODUCER = String.raw`
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
const def = loadSync('logservice/v1/log_streams.proto', { includeDirs: ['proto'], longs: Number, defaults: false });
const Client = grpc.loadPackageDefinition(def).logservice.v1.LogStreams;
const client = new Client(process.env.GRPC_ADDRESS, grpc.credentials.createInsecure());
const metadata = new grpc.Metadata();
metadata.set('authorization', 'Bearer ' + process.env.GRPC_TOKEN);
const call = client.Push(metadata);
let batch = 0;
const send = () => call.write({ key: process.env.GRPC_KEY, lines: Array.from({ length: 50 }, (_, i) => ({ out: 'batch ' + batch + ' line ' + i + '\n' })) });
call.on('data', (ack) => { process.stdout.write('ack ' + (ack.lastSeq ?? 0) + '\n'); batch++; send(); });
call.on('error', (err) => { process.stderr.write(String(err) + '\n'); process.exit(1); });
send();
`;

describe('gRPC: a producer killed mid-stream', function () {
  this.timeout(30_000);
  let server: TestServer;
  let client: LogStreamsClient;

  before(async () => {
    server = await startTestServer({ LOG_SERVICE_GRPC_BIND: '127.0.0.1:0', LOG_SERVICE_GLOBAL_TOKEN: GLOBAL });
    client = logStreamsClient(`127.0.0.1:${server.grpcPort}`);
  });
  after(async () => {
    closeClient(client);
    await server.destroy();
  });

  it('keeps every acknowledged batch, whole and in order, and keeps serving the stream to the next producer', async () => {
    const key = newKey();
    await unary(client, 'Open', { key }, tokenMetadata(GLOBAL));
    const child = spawn(process.execPath, ['--input-type=module', '-e', PRODUCER], {
      cwd: join(import.meta.dirname, '..'),
      env: { ...process.env, GRPC_ADDRESS: `127.0.0.1:${server.grpcPort}`, GRPC_TOKEN: GLOBAL, GRPC_KEY: key },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let lastAck = -1;
    let acks = 0;
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      for (const m of text.matchAll(/ack (\d+)/g)) {
        lastAck = Number(m[1]);
        acks++;
      }
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    await until('five acks from the producer', 15_000, () => acks >= 5);
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    const next = await push(client, [{ key, lines: [{ out: 'after the kill\n' }] }], tokenMetadata(GLOBAL));
    assert.equal(next.status.code, grpc.status.OK);
    await unary(client, 'Close', { key }, tokenMetadata(GLOBAL));
    const { messages } = await tailAll(client, { key }, tokenMetadata(GLOBAL));
    const lines = linesOf(messages);
    const seqs = lines.map((l) => l.seq);
    assert.deepEqual(
      seqs,
      Array.from({ length: seqs.length }, (_, i) => i),
      'consecutive seqs from 0',
    );
    assert.ok(seqs.length - 1 > lastAck, 'every acked line is there');
    assert.equal((seqs.length - 1) % 50, 0, 'whole batches only (50 lines each), then the next producer’s line');
    assert.equal(lines.at(-1)?.out, 'after the kill\n');
  });
});

describe('gRPC: the error table of docs/GRPC.md', () => {
  it('lists every catalogue code under the gRPC status the server answers it with', () => {
    const doc = readFileSync(new URL('../docs/GRPC.md', import.meta.url), 'utf8');
    const rows = new Map<string, string>();
    for (const m of doc.matchAll(/^\| `([A-Z_]+)` \| (.+) \|$/gm)) for (const code of m[2]!.matchAll(/`(LOGSVC_[A-Z_]+)`/g)) rows.set(code[1]!, m[1]!);
    for (const [code, status] of Object.entries(GRPC_STATUS)) {
      // A token that is not valid is UNAUTHENTICATED though its code maps to PERMISSION_DENIED: both rows name it.
      assert.equal(rows.has(code), true, `${code} is missing from docs/GRPC.md §5`);
      if (code !== 'LOGSVC_FORBIDDEN') assert.equal(rows.get(code), grpc.status[status], `${code} is documented under the wrong status`);
    }
  });
});

describe('gRPC: flow control and deadlines', function () {
  this.timeout(30_000);
  let server: TestServer;
  let client: LogStreamsClient;

  before(async () => {
    server = await startTestServer({ LOG_SERVICE_GRPC_BIND: '127.0.0.1:0', LOG_SERVICE_STREAM_MAX_LINES: '100000' });
    client = logStreamsClient(`127.0.0.1:${server.grpcPort}`);
  });
  after(async () => {
    closeClient(client);
    await server?.destroy();
  });

  const sizeOf = async (key: string) => (await unary<{ streams: Record<string, { size?: number }> }>(client, 'Info', {})).streams[key]?.size ?? 0;

  it('stops reading a producer that does not read its acks once they fill the connection, and goes on when it reads them', async () => {
    const key = newKey();
    await unary(client, 'Open', { key });
    const call = client.Push({ deadline: Date.now() + 25_000 }) as grpc.ClientDuplexStream<object, object>;
    let acks = 0;
    call.on('data', () => acks++);
    call.on('error', () => undefined);
    call.pause(); // the producer does not read its acks
    const total = 20_000;
    call.write({ key, lines: [{ out: 'z\n' }] });
    for (let i = 1; i < total; i++) call.write({ lines: [{ out: 'z\n' }] });
    // The stored count stops growing short of what was sent: the unread acks filled the
    // connection's window, the server's writes waited, and it read no further batch.
    let stored = -1;
    await until('the server to stop storing', 15_000, async () => {
      const now = await sizeOf(key);
      const settled = now === stored && now > 0;
      stored = now;
      if (!settled) await new Promise((resolve) => setTimeout(resolve, 300));
      return settled;
    });
    assert.ok(stored < total, `the server stored ${stored} of ${total} batches while nobody read the acks`);
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.resume();
    call.end();
    assert.equal((await status).code, grpc.status.OK);
    assert.equal(acks, total);
    assert.equal(await sizeOf(key), total);
  });

  it('ends a Push at its deadline with DEADLINE_EXCEEDED, keeping the batches acked before', async () => {
    const key = newKey();
    await unary(client, 'Open', { key });
    const call = client.Push({ deadline: Date.now() + 500 }) as grpc.ClientDuplexStream<object, object>;
    let acks = 0;
    call.on('data', () => acks++);
    call.on('error', () => undefined);
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.write({ key, lines: [{ out: 'before the deadline\n' }] });
    assert.equal((await status).code, grpc.status.DEADLINE_EXCEEDED);
    assert.equal(acks, 1);
    assert.equal(await sizeOf(key), 1);
  });
});
