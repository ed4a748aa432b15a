// `log-service tailsrv --dir DIR`: the multi-file grammar over real sockets and
// real files in a temporary directory (docs/TAILSRV.md §2-§5).
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../foundation/logger.ts';
import { startFileServer, type RunningFileServer } from '../tailsrv/file-server.ts';
import { HEADER_MAX_BYTES } from '../tailsrv/header-reader.ts';
import { within } from './support/bounded-wait.ts';
import { openTail, type TailClient } from './support/tailsrv-client.ts';

describe('tailsrv --dir: files over the multi-file protocol', function () {
  this.timeout(20_000);
  let dir: string;
  let outside: string;
  let server: RunningFileServer;
  const clients: TailClient[] = [];
  const tail = async (header: string | Buffer | undefined) => {
    const client = await openTail(server.port, header);
    clients.push(client);
    return client;
  };
  /** The whole answer of a request the server answers and closes. */
  const ask = async (header: string) => {
    const client = await tail(header);
    await client.ended();
    return client.text();
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tailsrv-dir-'));
    outside = mkdtempSync(join(tmpdir(), 'tailsrv-outside-'));
    writeFileSync(join(dir, 'build.log'), 'one\ntwo\nthree\n');
    mkdirSync(join(dir, 'steps/unit'), { recursive: true });
    writeFileSync(join(dir, 'steps/unit/test.log'), 'ok\n');
    writeFileSync(join(dir, 'steps/debug.tmp'), 'scratch\n');
    writeFileSync(join(dir, 'steps/keep.tmp'), 'kept\n');
    mkdirSync(join(dir, 'cache'));
    writeFileSync(join(dir, 'cache/blob.log'), 'cached\n');
    mkdirSync(join(dir, '.git'));
    writeFileSync(join(dir, '.git/config'), 'hidden\n');
    writeFileSync(join(dir, '.secret.log'), 'hidden\n');
    // Root: no *.tmp, no cache/ folder; steps/: but keep.tmp (negation in a deeper .ignore).
    writeFileSync(join(dir, '.ignore'), '*.tmp\ncache/\n');
    writeFileSync(join(dir, 'steps/.ignore'), '!keep.tmp\n');
    writeFileSync(join(outside, 'passwd'), 'root:x:0:0\n');
    symlinkSync(join(outside, 'passwd'), join(dir, 'escape.log'));
    symlinkSync(join(dir, 'build.log'), join(dir, 'alias.log'));
    server = await startFileServer({ source: { kind: 'directory', dir }, host: '127.0.0.1', port: 0, linger: false, log: createLogger('silent') });
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  after(async () => {
    await server.stop(1000);
    rmSync(dir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it('lists the streamable files: regular, not hidden, not ignored (negation and folders honoured), then closes', async () => {
    assert.equal(await ask('list\n'), 'build.log\nsteps/keep.tmp\nsteps/unit/test.log\n');
  });

  it('does not list names a header could not ask for: a newline inside, or whitespace around them', async () => {
    const odd = ['evil\n.secret', 'trail.log ', ' lead.log'];
    for (const name of odd) writeFileSync(join(dir, name), 'x\n');
    try {
      assert.equal(await ask('list\n'), 'build.log\nsteps/keep.tmp\nsteps/unit/test.log\n');
    } finally {
      for (const name of odd) rmSync(join(dir, name), { force: true });
    }
  });

  it('streams from the current end by default, then every append as it lands', async () => {
    writeFileSync(join(dir, 'live.log'), 'old\n');
    const client = await tail('stream live.log\n');
    // The server resolved "the end" once the header is read; an append after the answer starts is sent.
    await within(new Promise((r) => setTimeout(r, 100)), 200);
    appendFileSync(join(dir, 'live.log'), 'new\n');
    await client.until((t) => t === 'new\n');
    appendFileSync(join(dir, 'live.log'), 'newer\n');
    await client.until((t) => t === 'new\nnewer\n');
    assert.equal(client.isEnded, false);
  });

  it('serves every "from" form: start, end, byte N, byte -N, line N', async () => {
    const cases: [string, string][] = [
      ['from start', 'one\ntwo\nthree\n'],
      ['from byte 4', 'two\nthree\n'],
      ['from byte +4', 'two\nthree\n'],
      ['from byte -6', 'three\n'],
      ['from byte -1000', 'one\ntwo\nthree\n'], // -N larger than the file: the whole file
      ['from line 1', 'one\ntwo\nthree\n'],
      ['from line 2', 'two\nthree\n'], // the first byte of line 2, not the newline before it
      ['from line 3', 'three\n'],
    ];
    for (const [from, expected] of cases) {
      const client = await tail(`stream build.log ${from}\n`);
      await client.until((t) => t === expected);
    }
    const end = await tail('stream build.log from end\n');
    const other = await tail('stream build.log from byte -1\n');
    await other.until((t) => t === '\n');
    assert.equal(end.text(), '');
  });

  it('waits at an offset or a line past the end, then delivers once the file reaches it', async () => {
    writeFileSync(join(dir, 'grow.log'), 'ab\n');
    const byByte = await tail('stream grow.log from byte 6\n');
    const byLine = await tail('stream grow.log from line 3\n');
    appendFileSync(join(dir, 'grow.log'), 'cd\n'); // bytes 3-5, line 2
    appendFileSync(join(dir, 'grow.log'), 'ef\ngh\n'); // bytes 6-11, lines 3-4
    await byByte.until((t) => t === 'ef\ngh\n');
    await byLine.until((t) => t === 'ef\ngh\n');
  });

  it('follows a symlink that stays inside the directory', async () => {
    const client = await tail('stream alias.log from start\n');
    await client.until((t) => t === 'one\ntwo\nthree\n');
  });

  it('refuses hidden, ignored, outside, escaping and missing paths with one error line and a close', async () => {
    const refusals: [string, RegExp][] = [
      ['stream .secret.log', /^error: \.secret\.log is hidden/],
      ['stream .git/config', /^error: \.git\/config is hidden/],
      ['stream steps/debug.tmp from start', /^error: steps\/debug\.tmp is ignored by a \.ignore file/],
      ['stream cache/blob.log', /^error: cache\/blob\.log is ignored/],
      ['stream ../passwd', /^error: \.\.\/passwd is outside the served directory/],
      ['stream steps/../../passwd', /is outside the served directory/],
      [`stream ${join(outside, 'passwd')}`, /is outside the served directory/],
      ['stream escape.log from start', /^error: escape\.log is outside the served directory \(a symlink leads out of it\)/],
      ['stream nothing-here.log', /^error: no such file: nothing-here\.log/],
      ['stream steps', /^error: steps is not a regular file/],
    ];
    for (const [header, reason] of refusals) {
      const answer = await ask(`${header}\n`);
      assert.match(answer, reason, header);
      assert.equal(answer.split('\n').length, 2, `one line for ${header}: ${answer}`);
      assert.ok(!answer.includes('root:x'), 'nothing of the file leaks');
    }
  });

  it('answers a bad header with one error line and a close', async () => {
    assert.match(await ask('hello\n'), /^error: unknown request "hello"/);
    assert.match(await ask('stream build.log from byte x\n'), /^error: "x" is not a decimal number/);
    assert.match(await ask('stream build.log from line 0\n'), /^error: lines are counted from 1/);
    assert.match(await ask('stream build.log from yesterday\n'), /^error: cannot read "from yesterday"/);
    assert.match(await ask('\n'), /^error: empty header/);
  });

  it(`refuses a header line longer than ${HEADER_MAX_BYTES} bytes, and takes one of exactly that size`, async () => {
    const longest = `stream build.log from start${' '.repeat(HEADER_MAX_BYTES - 'stream build.log from start'.length - 1)}\n`;
    assert.equal(Buffer.byteLength(longest), HEADER_MAX_BYTES);
    const ok = await tail(longest);
    await ok.until((t) => t === 'one\ntwo\nthree\n');
    const answer = await ask(`stream ${'x'.repeat(HEADER_MAX_BYTES)}`);
    assert.equal(answer, `error: header line longer than ${HEADER_MAX_BYTES} bytes\n`);
  });

  it('joins a header split across TCP segments, takes \\r\\n, and ignores the bytes after the newline', async () => {
    const client = await tail('stre');
    await within(new Promise((r) => setTimeout(r, 50)), 100);
    client.socket.write('am build.lo');
    await within(new Promise((r) => setTimeout(r, 50)), 100);
    client.socket.write('g from line 3\r\nlist\nstream other\n');
    await client.until((t) => t === 'three\n');
    client.socket.write('more ignored bytes\n');
    appendFileSync(join(dir, 'build.log'), 'four\n');
    await client.until((t) => t === 'three\nfour\n');
  });

  it('keeps streaming to a client that closed its sending side after the header (echo … | nc -N)', async () => {
    writeFileSync(join(dir, 'half.log'), 'a\n');
    const client = await tail('stream half.log from start\n');
    client.socket.end();
    await client.until((t) => t === 'a\n');
    appendFileSync(join(dir, 'half.log'), 'b\n');
    await client.until((t) => t === 'a\nb\n');
  });

  it('reports a truncation to the clients past the new end with an error line; new clients read the file from its new size on', async () => {
    writeFileSync(join(dir, 'trunc.log'), '0123456789\nabcdefghij\n');
    const past = await tail('stream trunc.log from start\n');
    const before = await tail('stream trunc.log from byte 3\n');
    await past.until((t) => t.length === 22);
    truncateSync(join(dir, 'trunc.log'), 25); // grows: nobody is past the end
    await before.until((t) => t.length === 22);
    writeFileSync(join(dir, 'trunc.log'), '012'); // truncated to 3 bytes: `past` is at 25, `before` too
    await past.ended();
    // The data ended with NULs (the file grew by truncate), so the error line starts on a line of its own.
    assert.equal(past.text().slice(-23), '\nerror: file truncated\n');
    await before.ended();
    const fresh = await tail('stream trunc.log from byte 2\n');
    appendFileSync(join(dir, 'trunc.log'), '3\n');
    await fresh.until((t) => t === '23\n');
  });

  it('closes the clients of a deleted file after its last byte', async () => {
    writeFileSync(join(dir, 'gone.log'), 'last words\n');
    const client = await tail('stream gone.log from start\n');
    await client.until((t) => t === 'last words\n');
    unlinkSync(join(dir, 'gone.log'));
    await client.ended();
    assert.equal(client.text(), 'last words\n');
  });

  it('closes the clients of a moved file, and serves a new file at the path to new clients', async () => {
    writeFileSync(join(dir, 'rotate.log'), 'first\n');
    const client = await tail('stream rotate.log from start\n');
    await client.until((t) => t === 'first\n');
    renameSync(join(dir, 'rotate.log'), join(dir, 'rotate.log.1'));
    await client.ended();
    writeFileSync(join(dir, 'rotate.log'), 'second\n');
    const next = await tail('stream rotate.log from start\n');
    await next.until((t) => t === 'second\n');
  });

  it('serves a file created after the server started', async () => {
    assert.doesNotMatch(await ask('list\n'), /late\.log/);
    writeFileSync(join(dir, 'late.log'), 'here now\n');
    assert.match(await ask('list\n'), /^late\.log$/m);
    const client = await tail('stream late.log from start\n');
    await client.until((t) => t === 'here now\n');
  });

  it('closes a client that sends no complete header within 10 s (slowloris), with an error line', async function () {
    this.timeout(15_000);
    const started = Date.now();
    const client = await tail('stream ');
    const trickle = setInterval(() => client.socket.write('x'), 500);
    try {
      await client.ended(12_000);
    } finally {
      clearInterval(trickle);
    }
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 9_500 && elapsed < 11_500, `closed after ${elapsed} ms`);
    assert.equal(client.text(), 'error: no complete header within 10 s\n');
  });
});

describe('tailsrv --dir: lingering and shutdown', function () {
  this.timeout(20_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tailsrv-linger-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('with --linger-after-file-is-gone keeps the clients of a deleted file, following what its writer still appends', async () => {
    const server = await startFileServer({ source: { kind: 'directory', dir }, host: '127.0.0.1', port: 0, linger: true, log: createLogger('silent') });
    const path = join(dir, 'kept.log');
    writeFileSync(path, 'a\n');
    const client = await openTail(server.port, 'stream kept.log from start\n');
    try {
      await client.until((t) => t === 'a\n');
      const { openSync, writeSync, closeSync } = await import('node:fs');
      const writer = openSync(path, 'a');
      unlinkSync(path);
      writeSync(writer, 'b\n');
      closeSync(writer);
      await client.until((t) => t === 'a\nb\n');
      assert.equal(client.isEnded, false);
    } finally {
      client.close();
      await server.stop(1000);
    }
  });

  it('single-file form: reports the file gone once its clients have its last byte, or after the drain time for one that stopped reading', async () => {
    const path = join(dir, 'single.log');
    writeFileSync(path, 'x'.repeat(16 * 1024 * 1024));
    const server = await startFileServer({
      source: { kind: 'file', file: path },
      host: '127.0.0.1',
      port: 0,
      linger: false,
      log: createLogger('silent'),
      goneDrainMs: 1000,
    });
    const stalled = await openTail(server.port, '0\n', { paused: true });
    const reader = await openTail(server.port, '-5\n');
    try {
      await reader.until((t) => t === 'xxxxx');
      let reported = false;
      void server.fileGone.then(() => (reported = true));
      const started = Date.now();
      unlinkSync(path);
      await reader.ended();
      assert.equal(reported, false, 'the stalled client has not taken the last byte yet');
      assert.equal(
        await within(
          server.fileGone.then(() => true),
          5000,
          false,
        ),
        true,
      );
      const waited = Date.now() - started;
      assert.ok(waited >= 900 && waited < 4000, `reported after ${waited} ms`);
    } finally {
      stalled.close();
      reader.close();
      await server.stop(500);
    }
  });

  it('closes every connection cleanly on stop: tails, idle ones and ones still in their header', async () => {
    const server = await startFileServer({ source: { kind: 'directory', dir }, host: '127.0.0.1', port: 0, linger: false, log: createLogger('silent') });
    writeFileSync(join(dir, 'quiet.log'), 'q\n');
    const following = await openTail(server.port, 'stream quiet.log from start\n');
    await following.until((t) => t === 'q\n');
    const inHeader = await openTail(server.port, 'stream qu');
    const bare = connect(server.port, '127.0.0.1');
    bare.on('error', () => {});
    bare.resume();
    const bareClosed = new Promise<boolean>((resolve) => bare.once('end', () => resolve(true)));
    await new Promise((resolve) => bare.once('connect', resolve));
    // Accepted by the server (not only by the kernel's backlog) once it answers the header in flight.
    await inHeader.until(() => true);
    await within(new Promise((r) => setTimeout(r, 50)), 100);
    await server.stop(2000);
    await following.ended(1000);
    await inHeader.ended(1000);
    assert.equal(await within(bareClosed, 1000, false), true, 'an idle connection got a FIN');
    bare.destroy();
    following.close();
    inHeader.close();
  });
});
