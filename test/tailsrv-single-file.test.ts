// `log-service tailsrv FILE`: tailsrv's single-file form, the real executable
// over real sockets and a real file (docs/TAILSRV.md §1, §5).
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { within } from './support/bounded-wait.ts';
import { runCli } from './support/cli-process.ts';
import { openTail, type TailClient } from './support/tailsrv-client.ts';
import { startTailsrv, type TailsrvProcess } from './support/tailsrv-process.ts';

describe('tailsrv FILE: the single-file form', function () {
  this.timeout(30_000);
  let dir: string;
  const servers: TailsrvProcess[] = [];
  const clients: TailClient[] = [];
  const start = async (args: string[]) => {
    const server = await startTailsrv(args);
    servers.push(server);
    return server;
  };
  const tail = async (port: number, header: string) => {
    const client = await openTail(port, header);
    clients.push(client);
    return client;
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tailsrv-file-'));
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const s of servers.splice(0)) await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the signed decimal header: 0 the whole file, N from byte N, -N the last N bytes, with whitespace, \\r\\n and a leading +', async () => {
    const file = join(dir, 'app.log');
    writeFileSync(file, 'hello\nworld\n');
    const server = await start([file]);
    const cases: [string, string][] = [
      ['0\n', 'hello\nworld\n'],
      ['6\n', 'world\n'],
      ['+6\r\n', 'world\n'],
      ['  -6  \n', 'world\n'],
      ['-100\n', 'hello\nworld\n'],
    ];
    const opened = await Promise.all(cases.map(([header]) => tail(server.port, header)));
    for (const [i, [, expected]] of cases.entries()) await opened[i]!.until((t) => t === expected);
    appendFileSync(file, 'again\n');
    for (const [i, [, expected]] of cases.entries()) await opened[i]!.until((t) => t === `${expected}again\n`);
  });

  it('binds before the file exists, holds its clients, and serves them once it appears; an offset past the end waits', async () => {
    const file = join(dir, 'later.log');
    const server = await start([file]);
    const whole = await tail(server.port, '0\n');
    const ahead = await tail(server.port, '8\n');
    await within(new Promise((r) => setTimeout(r, 100)), 200);
    assert.equal(whole.text(), '');
    writeFileSync(file, 'abcd\n');
    await whole.until((t) => t === 'abcd\n');
    appendFileSync(file, 'efgh\n');
    await whole.until((t) => t === 'abcd\nefgh\n');
    await ahead.until((t) => t === 'h\n');
  });

  it('closes a client with a bad header, without an error line (the single-file form has none)', async () => {
    const file = join(dir, 'x.log');
    writeFileSync(file, 'x\n');
    const server = await start([file]);
    const client = await tail(server.port, 'stream x.log\n');
    await client.ended();
    assert.equal(client.text(), '');
  });

  it('closes the clients past the new end of a truncated file', async () => {
    const file = join(dir, 't.log');
    writeFileSync(file, '0123456789\n');
    const server = await start([file]);
    const client = await tail(server.port, '0\n');
    await client.until((t) => t === '0123456789\n');
    writeFileSync(file, '01');
    await client.ended();
    assert.equal(client.text(), '0123456789\n');
  });

  it('closes its clients after the last byte and exits 0 when the file is deleted', async () => {
    const file = join(dir, 'd.log');
    writeFileSync(file, 'bye\n');
    const server = await start([file]);
    const client = await tail(server.port, '0\n');
    await client.until((t) => t === 'bye\n');
    unlinkSync(file);
    await client.ended();
    const result = await within(server.cli.result, 10_000);
    assert.equal(result?.code, 0, result?.stderr);
  });

  it('exits 0 when the file is moved', async () => {
    const file = join(dir, 'm.log');
    writeFileSync(file, 'moved\n');
    const server = await start([file]);
    const client = await tail(server.port, '-3\n');
    await client.until((t) => t === 'ed\n');
    renameSync(file, `${file}.1`);
    await client.ended();
    assert.equal((await within(server.cli.result, 10_000))?.code, 0);
  });

  it('with --linger-after-file-is-gone keeps running and serves the next file at the path', async () => {
    const file = join(dir, 'l.log');
    writeFileSync(file, 'one\n');
    const server = await start([file, '--linger-after-file-is-gone']);
    const old = await tail(server.port, '0\n');
    await old.until((t) => t === 'one\n');
    renameSync(file, `${file}.1`);
    appendFileSync(`${file}.1`, 'two\n'); // still followed through the open descriptor
    await old.until((t) => t === 'one\ntwo\n');
    const next = await tail(server.port, '0\n');
    writeFileSync(file, 'fresh\n');
    await next.until((t) => t === 'fresh\n');
    assert.equal(old.isEnded, false);
    assert.equal(server.cli.child.exitCode, null);
    assert.equal(await server.stop(), 0);
  });

  it('refuses bad usage with exit code 2', async () => {
    const neither = await runCli(['tailsrv', '-p', '0']);
    assert.equal(neither.code, 2);
    assert.match(neither.stderr, /give either a FILE or --dir DIR/);
    const both = await runCli(['tailsrv', 'x.log', '--dir', dir, '-p', '0']);
    assert.equal(both.code, 2);
    const noPort = await runCli(['tailsrv', 'x.log']);
    assert.equal(noPort.code, 2);
    const badPort = await runCli(['tailsrv', 'x.log', '-p', '70000']);
    assert.equal(badPort.code, 2);
  });
});
