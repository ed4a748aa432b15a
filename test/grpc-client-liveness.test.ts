// The client over gRPC does not hang on a server that goes silent: a Push
// whose ack never comes times out (LOGSVC_TIMEOUT) and is retried on a new
// call, as an HTTP push's missing answer is, and a Tail that receives nothing
// for idleTimeoutMs (the server pings every 15 s) is cut and reconnected, as
// the SSE tail is. The silent server is a real grpc-js server on the repo's
// .proto whose Push and Tail accept the call and never answer.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { LogServiceClient, type LogServiceError } from '../client/index.ts';

const definition = loadSync('logservice/v1/log_streams.proto', { includeDirs: [join(import.meta.dirname, '..', 'proto')] });
const service = (grpc.loadPackageDefinition(definition) as unknown as { logservice: { v1: { LogStreams: { service: grpc.ServiceDefinition } } } }).logservice.v1
  .LogStreams.service;

describe('gRPC client against a silent server', function () {
  this.timeout(20_000);
  let server: grpc.Server;
  let port: number;
  const calls = { push: 0, tail: 0 };
  const held: (grpc.ServerDuplexStream<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>)[] = [];
  before(async () => {
    server = new grpc.Server();
    server.addService(service, {
      Open: (_call: unknown, done: grpc.sendUnaryData<object>) => done(null, {}),
      Close: (_call: unknown, done: grpc.sendUnaryData<object>) => done(null, {}),
      Info: (_call: unknown, done: grpc.sendUnaryData<object>) => done(null, {}),
      // Takes the batches, never acks them.
      Push: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
        calls.push++;
        held.push(call);
        call.on('data', () => undefined);
        call.on('error', () => undefined);
      },
      // A first tail gets one line (a first connection that fails is not retried: a wrong address fails
      // fast), then nothing, not even a Ping; a resumed one gets nothing at all.
      Tail: (call: grpc.ServerWritableStream<{ fromSeq?: unknown }, unknown>) => {
        calls.tail++;
        held.push(call);
        call.on('error', () => undefined);
        if (call.request.fromSeq === undefined || call.request.fromSeq === null) call.write({ lines: { lines: [{ seq: 0, out: 'first\n' }] } });
      },
    });
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
    );
  });
  after(() => server.forceShutdown());

  it('times a Push out when its ack never comes, retries it on a new call, and gives up after retryForMs', async () => {
    const client = new LogServiceClient({ server: `grpc://127.0.0.1:${port}`, timeoutMs: 500 });
    const before = calls.push;
    const failure = await client
      .stream({ project: 'p', build: 'b', stage: 's', step: 't' })
      .push('one line\n', { retryForMs: 1800, reopen: false })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    // Matched on the code: the gRPC half of the client is imported dynamically, a second module copy under mocha.
    assert.equal((failure as LogServiceError | undefined)?.code, 'LOGSVC_TIMEOUT', String(failure));
    assert.match(String(failure), /no ack in 500 ms/);
    assert.ok(calls.push - before >= 2, `the batch was retried on a new call (${calls.push - before} calls)`);
  });

  it('cuts a Tail that receives nothing for idleTimeoutMs and reconnects, then fails after reconnectForMs', async () => {
    const client = new LogServiceClient({ server: `grpc://127.0.0.1:${port}` });
    const before = calls.tail;
    const tail = client.stream({ project: 'p', build: 'b', stage: 's', step: 't' }).tail({ idleTimeoutMs: 300, reconnectForMs: 1500 });
    const seen: string[] = [];
    const failure = await (async () => {
      for await (const event of tail) if (event.type === 'line') seen.push(event.line.out);
    })().then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.equal((failure as LogServiceError | undefined)?.code, 'LOGSVC_NETWORK', String(failure));
    assert.match(String(failure), /nothing received in 300 ms/);
    assert.deepEqual(seen, ['first\n']);
    assert.ok(calls.tail - before >= 2, `the tail reconnected (${calls.tail - before} calls)`);
  });
});
