// `log-service cistore …` end to end: the real executable against a real
// server process (LMDB in a temp dir). Exit codes, stdout bytes and stderr
// lines are what a pipeline sees.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { patternStream, sha256Of } from './support/byte-streams.ts';
import { runCli } from './support/cli-process.ts';
import { freePort, startServer, type ServerProcess } from './support/server-process.ts';

const STEP = ['web', '42', 'test', 'unit'];

/** A Writable that hashes what it is given (stdout of a 100 MB download, without holding it). */
function hashingSink(): { sink: Writable; digest(): { sha256: string; bytes: number } } {
  const hash = createHash('sha256');
  let bytes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done();
    },
  });
  return { sink, digest: () => ({ sha256: hash.digest('hex'), bytes }) };
}

describe('log-service cistore (CLI against a server process)', function () {
  this.timeout(180_000);
  let server: ServerProcess;
  let dir: string;
  const env = () => ({ LOG_SERVICE_SERVER: server.url });

  before(async () => {
    server = await startServer();
    dir = mkdtempSync(join(tmpdir(), 'cli-cistore-'));
  });
  after(async () => server?.stop());

  it('uploads a file and downloads it to stdout byte for byte', async () => {
    const file = join(dir, 'build.log');
    writeFileSync(file, 'compiling…\nok\n');
    const up = await runCli(['cistore', 'upload', ...STEP, file], { env: env() });
    assert.equal(up.code, 0, up.stderr);
    assert.equal(up.stdout.length, 0, 'nothing on stdout');
    assert.equal(up.stderr, '', 'no progress bar when stderr is not a terminal');
    const down = await runCli(['cistore', 'download', ...STEP], { env: env() });
    assert.equal(down.code, 0, down.stderr);
    assert.equal(down.stdout.toString('utf8'), 'compiling…\nok\n');
    const head = await fetch(`${server.url}/ci/web/42/test/unit/blob`, { method: 'HEAD' });
    assert.equal(head.headers.get('content-type'), 'text/plain; charset=utf-8', 'type from the .log extension');
  });

  it('uploads stdin when the path is absent or "-", and downloads into a file with -o', async () => {
    const a = await runCli(['cistore', 'upload', 'web', '42', 'test', 'stdin'], { env: env(), input: 'from stdin\n' });
    assert.equal(a.code, 0, a.stderr);
    const b = await runCli(['cistore', 'upload', '--content-type', 'text/x-custom', 'web', '42', 'test', 'dash', '-'], { env: env(), input: 'from dash\n' });
    assert.equal(b.code, 0, b.stderr);
    const out = join(dir, 'out.txt');
    const down = await runCli(['cistore', 'download', 'web', '42', 'test', 'stdin', '-o', out], { env: env() });
    assert.equal(down.code, 0, down.stderr);
    assert.equal(down.stdout.length, 0);
    assert.equal(readFileSync(out, 'utf8'), 'from stdin\n');
    const dash = await runCli(['cistore', 'download', 'web', '42', 'test', 'dash', '--output', '-'], { env: env() });
    assert.equal(dash.stdout.toString(), 'from dash\n');
    const head = await fetch(`${server.url}/ci/web/42/test/dash/blob`, { method: 'HEAD' });
    assert.equal(head.headers.get('content-type'), 'text/x-custom');
  });

  it('round-trips 100 MB through upload and download with the same sha256', async () => {
    const size = 100 * 1024 * 1024;
    const file = join(dir, 'big.bin');
    await pipeline(patternStream(size, 7), createWriteStream(file));
    const expected = await sha256Of(patternStream(size, 7));
    assert.equal((await fetch(`${server.url}/ci/web/42/test/small/blob`, { method: 'PUT', body: 'small\n' })).status, 204);
    const idle = await runCli(['cistore', 'download', 'web', '42', 'test', 'small'], { env: env() }); // a small call: the baseline
    const up = await runCli(['cistore', 'upload', 'web', '42', 'test', 'big', file], { env: env(), timeoutMs: 120_000 });
    assert.equal(up.code, 0, up.stderr);
    const { sink, digest } = hashingSink();
    const down = await runCli(['cistore', 'download', 'web', '42', 'test', 'big'], { env: env(), stdout: sink, timeoutMs: 120_000 });
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(digest(), expected);
    if (idle.peakRssKb !== undefined && up.peakRssKb !== undefined && down.peakRssKb !== undefined) {
      // Streamed both ways: 100 MB through the process costs far less than 100 MB of memory.
      const grown = (kb: number) => Math.round((kb - (idle.peakRssKb ?? 0)) / 1024);
      assert.ok(grown(up.peakRssKb) < 64, `upload grew the CLI by ${grown(up.peakRssKb)} MiB`);
      assert.ok(grown(down.peakRssKb) < 64, `download grew the CLI by ${grown(down.peakRssKb)} MiB`);
    }
    // The same 100 MB through stdin: streamed too, not read whole before sending.
    const fromStdin = await runCli(['cistore', 'upload', 'web', '42', 'test', 'big-stdin'], { env: env(), input: patternStream(size, 7), timeoutMs: 120_000 });
    assert.equal(fromStdin.code, 0, fromStdin.stderr);
    if (idle.peakRssKb !== undefined && fromStdin.peakRssKb !== undefined) {
      const grown = Math.round((fromStdin.peakRssKb - idle.peakRssKb) / 1024);
      assert.ok(grown < 64, `a stdin upload grew the CLI by ${grown} MiB`);
    }
    const stdinCopy = hashingSink();
    const back = await runCli(['cistore', 'download', 'web', '42', 'test', 'big-stdin'], { env: env(), stdout: stdinCopy.sink, timeoutMs: 120_000 });
    assert.equal(back.code, 0, back.stderr);
    assert.deepEqual(stdinCopy.digest(), expected);
    const out = join(dir, 'big.out');
    const toFile = await runCli(['cistore', 'download', 'web', '42', 'test', 'big', '-o', out], { env: env(), timeoutMs: 120_000 });
    assert.equal(toFile.code, 0, toFile.stderr);
    assert.deepEqual(await sha256Of((await import('node:fs')).createReadStream(out)), expected);
  });

  it('prints links: the upload link takes a PUT and the download link serves it, both without a token', async () => {
    const up = await runCli(['cistore', 'upload-link', 'web', '42', 'test', 'linked'], { env: env() });
    assert.equal(up.code, 0, up.stderr);
    const uploadUrl = up.stdout.toString().trim();
    assert.match(uploadUrl, /^http:\/\/127\.0\.0\.1:\d+\/\S+$/);
    assert.equal((await fetch(uploadUrl, { method: 'PUT', body: 'via link\n' })).status, 204);
    const down = await runCli(['cistore', 'download-link', '--json', 'web', '42', 'test', 'linked'], { env: env() });
    assert.equal(down.code, 0, down.stderr);
    const link = JSON.parse(down.stdout.toString()) as { link: string; expires: number };
    assert.equal(link.expires, 3600e9, 'nanoseconds, the default hour');
    assert.equal(await (await fetch(link.link)).text(), 'via link\n');
  });

  it('exits 1 with one clear line and nothing on stdout when the blob does not exist', async () => {
    const out = join(dir, 'missing.txt');
    const res = await runCli(['cistore', 'download', 'web', '42', 'test', 'missing', '-o', out], { env: env() });
    assert.equal(res.code, 1);
    assert.equal(res.stdout.length, 0);
    assert.equal(res.stderr, 'log-service: not found: blob web/42/test/missing (LOGSVC_BLOB_NOT_FOUND)\n');
    assert.equal(existsSync(out), false, 'no file is left behind');
  });

  it('exits 1 with one line naming the server when nothing listens there, for every client command', async () => {
    const port = await freePort();
    const commands = [
      ['cistore', 'download', ...STEP],
      ['cistore', 'upload', ...STEP, '-'],
      ['cistore', 'upload-link', ...STEP],
      ['cistore', 'download-link', ...STEP],
      ['cistream', 'open', ...STEP],
      // push retries an unreachable server for --retry-for (5 minutes by default; docs/CLI.md)
      ['cistream', 'push', '--retry-for', '0', ...STEP, 'hello'],
      ['cistream', 'push', '--retry-for', '0', ...STEP],
      ['cistream', 'tail', ...STEP],
      ['cistream', 'close', ...STEP],
      ['cistream', 'info'],
    ];
    for (const args of commands) {
      const res = await runCli([...args, '--server', `http://127.0.0.1:${port}`], { env: env(), input: 'a line\n' });
      assert.equal(res.code, 1, args.join(' '));
      assert.equal(res.stdout.length, 0, args.join(' '));
      // a push from stdin also says how many lines did not get through
      const lines = args.includes('push') && !args.includes('hello') ? '; 1 line not delivered' : '';
      assert.equal(res.stderr, `log-service: cannot reach http://127.0.0.1:${port}: connection refused (LOGSVC_NETWORK)${lines}\n`, args.join(' '));
    }
  });

  it('exits 2 on bad usage: a missing argument, an invalid ID, a bad --server, a missing file', async () => {
    const cases: [string[], RegExp][] = [
      [['cistore', 'upload', 'web', '42'], /missing required argument 'stage'/],
      [['cistore', 'download', 'web', '42', 'test', 'bad/id'], /invalid step "bad\/id"/],
      [['cistore', 'download', ...STEP, '--server', 'not a url'], /--server: not a URL/],
      [['cistore', 'upload', ...STEP, join(dir, 'no-such-file')], /no such file/],
      [['cistore', 'frobnicate'], /unknown command 'frobnicate'/],
      [['cistore', 'download', ...STEP, '--cert-file', join(dir, 'x.pem')], /--cert-file and --key-file go together/],
    ];
    for (const [args, message] of cases) {
      const res = await runCli(args, { env: env() });
      assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
      assert.match(res.stderr, message);
      assert.doesNotMatch(res.stderr, /\n\s+at /, 'no stack trace');
    }
  });

  it('reads LOG_SERVICE_SERVER from .env in the working directory, and --server wins over it', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'cli-dotenv-'));
    writeFileSync(join(cwd, '.env'), `LOG_SERVICE_SERVER=${server.url}\n`);
    const viaDotenv = await runCli(['cistore', 'download', 'web', '42', 'test', 'stdin'], { cwd });
    assert.equal(viaDotenv.code, 0, viaDotenv.stderr);
    assert.equal(viaDotenv.stdout.toString(), 'from stdin\n');
    const port = await freePort();
    const overridden = await runCli(['cistore', 'download', 'web', '42', 'test', 'stdin', '--server', `http://127.0.0.1:${port}`], { cwd });
    assert.equal(overridden.code, 1);
    assert.match(overridden.stderr, new RegExp(`cannot reach http://127.0.0.1:${port}`));
  });

  it('documents arguments, options, environment and examples in --help', async () => {
    for (const args of [['--help'], ['cistore', '--help'], ['cistore', 'upload', '--help'], ['cistore', 'download-link', '--help']]) {
      const res = await runCli(args);
      assert.equal(res.code, 0, args.join(' '));
      const help = res.stdout.toString();
      assert.match(help, /^Examples?\b/m);
      assert.match(help, /LOG_SERVICE_SERVER/);
      assert.match(help, /LOG_SERVICE_TOKEN/);
      assert.match(help, /Exit codes: 0 success, 1 server or network failure, 2 bad usage/);
    }
    const upload = (await runCli(['cistore', 'upload', '--help'])).stdout.toString();
    for (const word of [
      '<project>',
      '<build>',
      '<stage>',
      '<step>',
      '[path]',
      '--content-type',
      '--server',
      '--token',
      '--ca-file',
      '--cert-file',
      '--key-file',
    ]) {
      assert.ok(upload.includes(word), `upload --help mentions ${word}`);
    }
  });
});

describe('log-service cistore with auth on', function () {
  this.timeout(60_000);
  let server: ServerProcess;
  before(async () => {
    server = await startServer({ LOG_SERVICE_GLOBAL_TOKEN: 'global-secret', LOG_SERVICE_SECRET: 'hmac-secret' });
  });
  after(async () => server?.stop());

  it('exits 1 saying how to pass a token when there is none, and works with --token or LOG_SERVICE_TOKEN', async () => {
    const env = { LOG_SERVICE_SERVER: server.url };
    const denied = await runCli(['cistore', 'upload', ...STEP], { env, input: 'secret log\n' });
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /^log-service: blob web\/42\/test\/unit: .*pass --token or set LOG_SERVICE_TOKEN \(LOGSVC_UNAUTHORIZED\)\n$/);
    const wrong = await runCli(['cistore', 'upload', ...STEP, '--token', 'nope'], { env, input: 'secret log\n' });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /\(LOGSVC_FORBIDDEN\)\n$/);
    const withFlag = await runCli(['cistore', 'upload', ...STEP, '--token', 'global-secret'], { env, input: 'secret log\n' });
    assert.equal(withFlag.code, 0, withFlag.stderr);
    const withEnv = await runCli(['cistore', 'download', ...STEP], { env: { ...env, LOG_SERVICE_TOKEN: 'global-secret' } });
    assert.equal(withEnv.stdout.toString(), 'secret log\n');
  });
});
