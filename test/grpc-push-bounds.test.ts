// Push messages are counted on the wire before they are decoded
// (grpc/push-message-bounds.ts, docs/GRPC.md "Flow control"): a 4 MiB message
// of 2 million empty `lines` entries decodes into about 400 MB of objects, so
// before the bound one such call, with or without a valid token, took the
// server from ~170 MB to ~600 MB and held its thread for seconds. Measured on
// a server process: its peak resident memory (VmHWM) is the figure.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { pushMessageProblem } from '../grpc/push-message-bounds.ts';
import { freePort, startServer, type ServerProcess } from './support/server-process.ts';
import { encode } from './support/protobuf-wire.ts';

const PUSH = '/logservice.v1.LogStreams/Push';
const TOKEN = 'push-bounds-token';

/** A PushRequest of `count` empty `lines` entries (field 3, length 0) after the key (field 2). */
function manyEmptyLines(count: number): Buffer {
  return Buffer.concat([encode([[2, 'p/b/s/t']]), Buffer.alloc(count * 2, Buffer.from([0x1a, 0x00]))]);
}

function peakMb(pid: number): number {
  return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
}

/** One Push call with one raw message; resolves with how it ended. */
function pushRaw(client: Client, message: Buffer, token?: string): Promise<{ code: number; logsvc: string | undefined }> {
  const metadata = new Metadata();
  if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
  const identity = (b: Buffer) => b;
  return new Promise((resolve) => {
    const call = client.makeBidiStreamRequest(PUSH, identity, identity, metadata, { deadline: Date.now() + 20_000 });
    call.on('data', () => undefined);
    call.on('error', (err: ServiceError) => resolve({ code: err.code, logsvc: err.metadata.get('logsvc-code')[0]?.toString() }));
    call.on('end', () => resolve({ code: 0, logsvc: undefined }));
    call.write(message);
    call.end();
  });
}

describe('gRPC Push: message bounds checked before decoding', function () {
  this.timeout(60_000);
  let server: ServerProcess;
  let client: Client;
  before(async () => {
    const grpcPort = await freePort();
    server = await startServer({ LOG_SERVICE_GRPC_BIND: `127.0.0.1:${grpcPort}`, LOG_SERVICE_GLOBAL_TOKEN: TOKEN });
    client = new Client(`127.0.0.1:${grpcPort}`, credentials.createInsecure(), { 'grpc.max_send_message_length': 8 * 1024 * 1024 });
  });
  after(async () => {
    client?.close();
    await server?.stop();
  });

  it('counts lines and args entries on the wire, leaving malformed bytes to the decoder', () => {
    assert.equal(pushMessageProblem(manyEmptyLines(10_000)), undefined);
    assert.equal(pushMessageProblem(manyEmptyLines(10_001))?.code, 'LOGSVC_BODY_TOO_LARGE');
    const argsEntry = encode([[1, 'k']]);
    const lineWithArgs = (n: number) => Buffer.concat(Array.from({ length: n }, () => Buffer.concat([Buffer.from([0x22, argsEntry.length]), argsEntry])));
    const line257 = lineWithArgs(257);
    const message = Buffer.concat([Buffer.from([0x1a]), varint(line257.length), line257]);
    assert.equal(pushMessageProblem(message)?.code, 'LOGSVC_INVALID_LINE');
    const line256 = lineWithArgs(256);
    assert.equal(pushMessageProblem(Buffer.concat([Buffer.from([0x1a]), varint(line256.length), line256])), undefined);
    assert.equal(pushMessageProblem(Buffer.from([0x1a, 0x05, 0x00])), undefined, 'a length past the end is the decoder’s to refuse');
  });

  it('refuses 4 MB of empty lines, with or without a token, without decoding them', async () => {
    const message = manyEmptyLines(2_000_000);
    const before = peakMb(server.process.pid!);
    const results = await Promise.all([
      pushRaw(client, message),
      pushRaw(client, message, 'wrong'),
      pushRaw(client, message, TOKEN),
      pushRaw(client, message, TOKEN),
    ]);
    assert.deepEqual(results.slice(0, 2), [
      { code: 16, logsvc: 'LOGSVC_UNAUTHORIZED' },
      { code: 16, logsvc: 'LOGSVC_FORBIDDEN' },
    ]);
    // grpc-js's RESOURCE_EXHAUSTED = 8.
    assert.deepEqual(results.slice(2), [
      { code: 8, logsvc: 'LOGSVC_BODY_TOO_LARGE' },
      { code: 8, logsvc: 'LOGSVC_BODY_TOO_LARGE' },
    ]);
    const growth = peakMb(server.process.pid!) - before;
    // Decoded, the four messages were ~1 GB at the peak; the bytes themselves are 4 × 4 MB.
    assert.ok(growth < 150, `peak resident memory grew ${growth.toFixed(0)} MB`);
  });
});

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}
