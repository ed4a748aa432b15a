// `log-service cistream …` end to end: the real executable against a real
// server process. Tail is checked the way a person sees it — the log text on
// stdout — including across a connection cut by a TCP proxy in between.
import assert from 'node:assert/strict';
import { LogServiceClient } from '../client/index.ts';
import { runCli, startCli, waitFor } from './support/cli-process.ts';
import { startServer, type ServerProcess } from './support/server-process.ts';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.ts';

let counter = 0;
/** A fresh step per test, so tests never see each other's streams. */
const freshStep = (): [string, string, string, string] => ['web', String(Date.now()), 'test', `step-${counter++}`];
const text = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `line ${from + i}\n`).join('');

describe('log-service cistream (CLI against a server process)', function () {
  this.timeout(120_000);
  let server: ServerProcess;
  let client: LogServiceClient;
  const env = () => ({ LOG_SERVICE_SERVER: server.url });

  before(async () => {
    server = await startServer();
    client = new LogServiceClient({ server: server.url });
  });
  after(async () => server?.stop());

  it('opens, pushes a message and stdin lines, closes with a snapshot, and tail prints the whole log then exits 0', async () => {
    const step = freshStep();
    assert.equal((await runCli(['cistream', 'open', ...step], { env: env() })).code, 0);
    const message = await runCli(['cistream', 'push', ...step, 'starting'], { env: env() });
    assert.equal(message.code, 0, message.stderr);
    const piped = await runCli(['cistream', 'push', ...step], { env: env(), input: 'compiling\nlinking\nno newline at the end' });
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout.length, 0);
    const close = await runCli(['cistream', 'close', '--snapshot', ...step], { env: env() });
    assert.equal(close.code, 0, close.stderr);
    // The stream is closed: tail is served from the snapshot, and ends by itself.
    const tail = await runCli(['cistream', 'tail', ...step], { env: env() });
    assert.equal(tail.code, 0, tail.stderr);
    assert.equal(tail.stdout.toString(), 'starting\ncompiling\nlinking\nno newline at the end');
  });

  it('tail follows a live stream: lines pushed while it runs appear, and it exits 0 when the stream closes', async () => {
    const step = freshStep();
    const stream = client.stream({ project: step[0], build: step[1], stage: step[2], step: step[3] });
    await stream.open();
    await stream.push(text(3));
    const tail = startCli(['cistream', 'tail', ...step], { env: env() });
    await waitFor(() => tail.stdout().toString() === text(3), 'the retained history');
    await stream.push(text(3, 3));
    await waitFor(() => tail.stdout().toString() === text(6), 'the live lines');
    await stream.close();
    const result = await tail.result;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.toString(), text(6));
    assert.equal(result.stderr, '');
  });

  it('push streams a large log from stdin in order, and --level marks every line', async () => {
    const step = freshStep();
    await runCli(['cistream', 'open', ...step], { env: env() });
    const log = text(20_000);
    const push = await runCli(['cistream', 'push', '--level', 'warn', ...step], { env: env(), input: log });
    assert.equal(push.code, 0, push.stderr);
    const stream = client.stream({ project: step[0], build: step[1], stage: step[2], step: step[3] });
    assert.equal((await stream.info())?.size, 20_000);
    await stream.close({ snapshot: true });
    // The ring keeps the last 10 000 lines of a stream (docs/BACKENDS.md); the live archive keeps the rest
    // (docs/ARCHIVE.md), so the snapshot is the whole log.
    let expected = 0;
    const dropped: string[] = [];
    for await (const event of stream.tail()) {
      if (event.type === 'dropped') {
        dropped.push(`${event.from}-${event.to}`);
        continue;
      }
      assert.equal(event.type, 'line');
      if (event.type !== 'line') continue;
      assert.deepEqual([event.seq, event.line.out, event.line.level], [expected, `line ${expected}\n`, 'warn']);
      expected++;
    }
    assert.deepEqual(dropped, []);
    assert.equal(expected, 20_000);
    // the stream is gone (no snapshot): push to it now fails
    const late = await runCli(['cistream', 'push', ...step, 'too late'], { env: env() });
    assert.equal(late.code, 1);
    assert.match(late.stderr, /^log-service: not found: stream web\/\d+\/test\/step-\d+ \(LOGSVC_STREAM_NOT_FOUND\)\n$/);
  });

  it('tail --json prints one line object per output line; --tail N and --from S pick where to start', async () => {
    const step = freshStep();
    const stream = client.stream({ project: step[0], build: step[1], stage: step[2], step: step[3] });
    await stream.open();
    await stream.push(text(10), { level: 'error' });
    await stream.close({ snapshot: true });
    const json = await runCli(['cistream', 'tail', '--json', ...step], { env: env() });
    assert.equal(json.code, 0, json.stderr);
    const lines = json.stdout
      .toString()
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { level: string; out: string; pos: number; time: string });
    assert.equal(lines.length, 10);
    assert.deepEqual(
      lines.map((l) => l.out),
      text(10).split(/(?<=\n)/),
    );
    assert.ok(lines.every((l) => l.level === 'error' && typeof l.time === 'string'));
    const last = await runCli(['cistream', 'tail', '--tail', '3', ...step], { env: env() });
    assert.equal(last.stdout.toString(), 'line 7\nline 8\nline 9\n');
    const after = await runCli(['cistream', 'tail', '--from', '5', ...step], { env: env() });
    assert.equal(after.stdout.toString(), 'line 6\nline 7\nline 8\nline 9\n');
  });

  it('info lists open streams as tab-separated lines, or as JSON with --json', async () => {
    const step = freshStep();
    const key = step.join('/');
    await client.stream({ project: step[0], build: step[1], stage: step[2], step: step[3] }).open();
    await client.stream({ project: step[0], build: step[1], stage: step[2], step: step[3] }).push(text(4));
    const plain = await runCli(['cistream', 'info', `${step[0]}/${step[1]}/`], { env: env() });
    assert.equal(plain.code, 0, plain.stderr);
    // key, pushed, viewers, ttl, held: held comes last, so scripts reading the first four columns keep working
    assert.match(plain.stdout.toString(), new RegExp(`^${key}\\t4\\t0\\t\\d+h\\d+m\\d+s\\t4\\n$`));
    const json = await runCli(['cistream', 'info', '--json'], { env: env() });
    const streams = JSON.parse(json.stdout.toString()) as { key: string; size: number; held: number | null; subscribers: number; ttl: string }[];
    const mine = streams.find((s) => s.key === key);
    assert.deepEqual(mine && { size: mine.size, held: mine.held, subscribers: mine.subscribers }, { size: 4, held: 4, subscribers: 0 });
  });

  it('tail notes on stderr when the stream starts again under the same key, and prints the new stream', async () => {
    const step = freshStep();
    const stream = client.stream({ project: step[0], build: step[1], stage: step[2], step: step[3] });
    await stream.open();
    await stream.push(text(3));
    const tail = startCli(['cistream', 'tail', ...step], { env: env() });
    await waitFor(() => tail.stdout().toString() === text(3), 'the first stream');
    await stream.open(); // opening an open stream starts it again, empty
    await stream.push('again\n');
    await waitFor(() => tail.stdout().toString() === `${text(3)}again\n`, 'the new stream');
    await stream.close();
    const result = await tail.result;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stderr,
      'log-service: the stream started again (closed and opened again, or lost by the server and reopened); ' +
        'whatever it had after line 2 is lost; following the new stream from line 0\n',
    );
  });

  it('fails with exit 1 and one line when the stream does not exist', async () => {
    const step = freshStep();
    for (const command of ['tail', 'close']) {
      const res = await runCli(['cistream', command, ...step], { env: env() });
      assert.equal(res.code, 1, command);
      assert.equal(res.stderr, `log-service: not found: stream ${step.join('/')} (LOGSVC_STREAM_NOT_FOUND)\n`);
    }
  });

  it('exits 2 on bad usage', async () => {
    const step = freshStep();
    const cases: [string[], RegExp][] = [
      [['cistream', 'tail', '--from', '1', '--tail', '2', ...step], /--from and --tail exclude each other/],
      [['cistream', 'tail', '--from', 'abc', ...step], /--from must be a non-negative integer/],
      [['cistream', 'open', '--ttl', '-5', ...step], /--ttl must be a non-negative integer/],
      [['cistream', 'push', '--level', '', 'hi', ...step], /--level: expected a level name/],
      [['cistream', 'push', '--retry-for', 'soon', ...step], /--retry-for.*expected a duration such as 90s, 5m or 1h30m/],
      [['cistream', 'bogus'], /unknown command 'bogus'/],
      [['cistream', 'push', 'web', '42'], /missing required argument/],
      [['cistream', 'open', 'web', '..', 'test', 'unit'], /invalid build "\.\."/],
    ];
    for (const [args, message] of cases) {
      const res = await runCli(args, { env: env() });
      assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
      assert.match(res.stderr, message);
      assert.match(res.stderr, /^log-service: [^\n]+ \(see --help\)\n$/, 'one line, one prefix');
    }
  });

  it('documents each subcommand in --help with examples and environment', async () => {
    for (const sub of ['open', 'push', 'tail', 'close', 'info']) {
      const res = await runCli(['cistream', sub, '--help']);
      assert.equal(res.code, 0);
      const help = res.stdout.toString();
      assert.match(help, /^Examples?\b/m, sub);
      assert.match(help, /LOG_SERVICE_SERVER/, sub);
      assert.match(help, /Exit codes/, sub);
    }
  });
});

describe('log-service cistream tail across a broken connection', function () {
  this.timeout(120_000);
  let server: ServerProcess;
  let proxy: TcpProxy;
  before(async () => {
    server = await startServer();
    proxy = await startTcpProxy(server.port);
  });
  after(async () => {
    await proxy?.close();
    await server?.stop();
  });

  it('resumes after the connection is cut, printing every line once and in order, then exits 0', async () => {
    const client = new LogServiceClient({ server: server.url });
    const step = freshStep();
    const stream = client.stream({ project: step[0], build: step[1], stage: step[2], step: step[3] });
    await stream.open();
    await stream.push(text(50));
    const tail = startCli(['cistream', 'tail', ...step], { env: { LOG_SERVICE_SERVER: proxy.url } });
    await waitFor(() => tail.stdout().toString() === text(50), 'the first 50 lines');
    const connectionsBefore = proxy.connections;
    proxy.cutAll();
    await stream.push(text(50, 50)); // written while the viewer is disconnected
    await waitFor(() => proxy.connections > connectionsBefore, 'the reconnect', 15_000);
    await waitFor(() => tail.stdout().toString() === text(100), 'the lines written during the cut', 15_000);
    await stream.push(text(10, 100));
    await stream.close();
    const result = await tail.result;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.toString(), text(110));
  });

  it('resumes a tail that was cut twice in a row while lines keep coming', async () => {
    const client = new LogServiceClient({ server: server.url });
    const step = freshStep();
    const stream = client.stream({ project: step[0], build: step[1], stage: step[2], step: step[3] });
    await stream.open();
    const tail = startCli(['cistream', 'tail', '--json', ...step], { env: { LOG_SERVICE_SERVER: proxy.url } });
    for (let round = 0; round < 3; round++) {
      await stream.push(text(100, round * 100));
      await waitFor(() => tail.stdout().toString().split('\n').length > (round + 1) * 100, `round ${round}`, 15_000);
      if (round < 2) proxy.cutAll();
    }
    await stream.close();
    const result = await tail.result;
    assert.equal(result.code, 0, result.stderr);
    const outs = result.stdout
      .toString()
      .trimEnd()
      .split('\n')
      .map((l) => (JSON.parse(l) as { out: string }).out);
    assert.equal(outs.join(''), text(300));
  });
});

describe('log-service cistream tail when the server no longer holds the lines', function () {
  this.timeout(60_000);
  let server: ServerProcess;
  before(async () => {
    server = await startServer({ LOG_SERVICE_STREAM_MAX_LINES: '10', LOG_SERVICE_MAX_PUSH_LINES: '10' });
  });
  after(async () => server?.stop());

  it('reports the dropped range on stderr and prints the lines it still has', async () => {
    const client = new LogServiceClient({ server: server.url });
    const step = freshStep();
    const stream = client.stream({ project: step[0], build: step[1], stage: step[2], step: step[3] });
    await stream.open();
    await stream.push(text(30));
    const tail = startCli(['cistream', 'tail', '--from', '0', ...step], { env: { LOG_SERVICE_SERVER: server.url } });
    await waitFor(() => tail.stdout().toString() === text(10, 20), 'the retained lines');
    await stream.close();
    const result = await tail.result;
    assert.equal(result.code, 0);
    assert.equal(result.stderr, 'log-service: lines 1-19 dropped (no longer held by the server)\n');
  });

  it('info says how many lines the server still holds besides how many were pushed', async () => {
    const client = new LogServiceClient({ server: server.url });
    const step = freshStep();
    const stream = client.stream({ project: step[0], build: step[1], stage: step[2], step: step[3] });
    await stream.open();
    await stream.push(text(30));
    const info = await runCli(['cistream', 'info', `${step.slice(0, 2).join('/')}/`], { env: { LOG_SERVICE_SERVER: server.url } });
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout.toString(), new RegExp(`^${step.join('/')}\\t30\\t0\\t\\S+\\t10\\n$`));
    await stream.close();
  });
});
