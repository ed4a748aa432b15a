// `log-service cistream … --grpc` (docs/CLI.md): the real executable against a
// real server's gRPC port. The same output and exit codes as over HTTP: the
// whole log on stdout and 0 when the stream ends, one line on stderr and 1 for
// a failure of the service, 2 for bad usage.
import assert from 'node:assert/strict';
import { runCli, startCli, waitFor } from './support/cli-process.ts';
import { startTestServer, type TestServer } from './support/in-process-server.ts';
import { freePort as closedPort } from './support/server-process.ts';

const TOKEN = 'grpc-cli-token';
let counter = 0;
const freshStep = (): [string, string, string, string] => ['web', `g${Date.now()}`, 'test', `step-${counter++}`];

describe('log-service cistream --grpc (CLI against the gRPC port)', function () {
  this.timeout(60_000);
  let server: TestServer;
  let grpc: string;
  const env = () => ({ LOG_SERVICE_SERVER: server.url, LOG_SERVICE_TOKEN: TOKEN });

  before(async () => {
    server = await startTestServer({ LOG_SERVICE_GRPC_BIND: '127.0.0.1:0', LOG_SERVICE_GLOBAL_TOKEN: TOKEN });
    grpc = `127.0.0.1:${server.grpcPort}`;
  });
  after(() => server.destroy());

  it('opens, pushes stdin, and a live tail prints every line and exits 0 when close ends the stream', async () => {
    const step = freshStep();
    const open = await runCli(['cistream', 'open', '--grpc', grpc, ...step], { env: env() });
    assert.equal(open.code, 0, open.stderr);
    const tail = startCli(['cistream', 'tail', '--grpc', grpc, ...step], { env: env() });
    const push = await runCli(['cistream', 'push', '--grpc', grpc, '--level', 'warn', ...step], {
      env: env(),
      input: 'compiling\nlinking\nno newline at the end',
    });
    assert.equal(push.code, 0, push.stderr);
    await waitFor(() => tail.stdout().toString().includes('linking\n'), 'the live tail to print the pushed lines');
    // info over gRPC (LogStreams.Info): the open stream with its lines and its viewer.
    const info = await runCli(['cistream', 'info', '--json', '--grpc', grpc], { env: env() });
    assert.equal(info.code, 0, info.stderr);
    const listed = (JSON.parse(info.stdout.toString()) as { key: string; size: number; subscribers: number }[]).find((s) => s.key === step.join('/'));
    assert.deepEqual(listed && { size: listed.size, subscribers: listed.subscribers }, { size: 3, subscribers: 1 });
    // Blobs are HTTP only: said plainly, not as a protocol error from the gRPC port.
    const blob = await runCli(['cistore', 'download', '--server', `grpc://${grpc}`, '--token', TOKEN, ...step, '-o', '-']);
    assert.equal(blob.code, 1);
    assert.match(blob.stderr, /blobs need an http:\/\/ or https:\/\/ server/);
    const close = await runCli(['cistream', 'close', '--grpc', grpc, '--snapshot', ...step], { env: env() });
    assert.equal(close.code, 0, close.stderr);
    const done = await tail.result;
    assert.equal(done.code, 0, done.stderr);
    assert.equal(done.stdout.toString(), 'compiling\nlinking\nno newline at the end');
    // Closed with a snapshot: a grpc:// server URL serves the finished log too, from the blob, as JSON lines with the level.
    const replay = await runCli(['cistream', 'tail', '--json', '--server', grpc.replace(/^/, 'grpc://'), '--token', TOKEN, ...step]);
    assert.equal(replay.code, 0, replay.stderr);
    const rows = replay.stdout
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { out: string; level: string });
    assert.deepEqual(
      rows.map((r) => [r.level, r.out]),
      [
        ['warn', 'compiling\n'],
        ['warn', 'linking\n'],
        ['warn', 'no newline at the end'],
      ],
    );
  });

  it('says what failed and exits 1 as over HTTP: a stream that is not there, a token that opens nothing', async () => {
    const step = freshStep();
    const missing = await runCli(['cistream', 'tail', '--grpc', grpc, ...step], { env: env() });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^log-service: not found: stream web\/\S+ \(LOGSVC_STREAM_NOT_FOUND\)\n$/);
    const wrong = await runCli(['cistream', 'open', '--grpc', grpc, '--token', 'wrong', ...step]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /the token is not valid \(LOGSVC_FORBIDDEN\)/);
    const down = await runCli(['cistream', 'tail', '--grpc', `127.0.0.1:${await closedPort()}`, ...step], { env: env() });
    assert.equal(down.code, 1);
    assert.match(down.stderr, /^log-service: cannot reach grpc:\/\/127\.0\.0\.1:\d+: connect ECONNREFUSED 127\.0\.0\.1:\d+ \(LOGSVC_NETWORK\)\n$/);
    const push = await runCli(['cistream', 'push', '--grpc', grpc, '--retry-for', '0', ...step, 'into nothing'], { env: env() });
    assert.equal(push.code, 1);
    assert.match(push.stderr, /LOGSVC_STREAM_NOT_FOUND/);
  });

  it('refuses a --grpc that is not host:port with exit code 2', async () => {
    const bad = await runCli(['cistream', 'tail', '--grpc', 'http://x', ...freshStep()], { env: env() });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--grpc: expected host:port, e\.g\. 127\.0\.0\.1:8081/);
  });
});
