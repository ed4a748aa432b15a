// `log-service scribe --path DIR --size N --console --port N` as a child
// process (docs/SCRIBE.md §4): go-scribe producers call Log on the port, the
// lines land in DIR and on stdout, SIGTERM stops it with exit 0; a bad size is
// a one-line usage error (exit 2).
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@grpc/grpc-js';
import { within } from './support/bounded-wait.ts';
import { encode } from './support/protobuf-wire.ts';
import { callRaw, rawClient } from './support/raw-grpc.ts';
import { BIN, cleanEnv, freePort } from './support/server-process.ts';

const READY_MS = 20_000;

function env(dir: string, httpPort: number): Record<string, string> {
  return {
    ...cleanEnv(),
    LOG_SERVICE_HTTP_BIND: `127.0.0.1:${httpPort}`,
    LOG_SERVICE_LMDB_PATH: join(dir, 'db'),
    LOG_SERVICE_LOG_LEVEL: 'warn',
    LOG_SERVICE_RUN_SOURCES: '1',
  };
}

describe('log-service scribe', function () {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'logsvc-scribe-cmd-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a bad --size with one line on stderr and exit code 2', () => {
    for (const size of ['0AB', 'A0.1MB']) {
      const run = spawnSync(process.execPath, [BIN, 'scribe', '--path', join(dir, 'logs'), '--size', size], {
        cwd: dir,
        env: env(dir, 1),
        encoding: 'utf8',
        timeout: 20_000,
      });
      assert.equal(run.status, 2, run.stderr);
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
      assert.match(run.stderr, new RegExp(`--size must be a go-scribe size .*"${size}"`));
    }
  });

  it('writes Log lines to DIR/<path>/<filename>.log and stdout, rotating at --size, and stops on SIGTERM', async () => {
    const port = await freePort();
    const logs = join(dir, 'logs');
    const child: ChildProcess = spawn(process.execPath, [BIN, 'scribe', '--path', logs, '--size', '100B', '--console', '--port', String(port)], {
      cwd: dir,
      env: env(dir, await freePort()),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const client: Client = rawClient(`127.0.0.1:${port}`);
    try {
      // Ready once Ping answers (no token: loopback development mode, as go-scribe had none).
      const deadline = Date.now() + READY_MS;
      for (;;) {
        try {
          await callRaw(client, '/com.romanostrechlis.scribe.api.Pinger/Ping', Buffer.alloc(0), {}, 1000);
          break;
        } catch (err) {
          if (Date.now() > deadline || child.exitCode !== null) throw new Error(`scribe did not start: ${String(err)}\n${stderr}`, { cause: err });
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      const lines = Array.from({ length: 12 }, (_, i) => `line ${String(i).padStart(2, '0')} of the build`);
      for (const line of lines) {
        await callRaw(
          client,
          '/com.romanostrechlis.scribe.api.LogScribe/Log',
          encode([
            [1, 'build'],
            [2, 'ci/42'],
            [3, line],
          ]),
        );
      }
      const files = readdirSync(join(logs, 'ci/42'));
      assert.ok(files.length >= 3, `expected rotated files at 100 bytes, got ${files.join(', ')}`);
      const all = files
        .sort((a, b) => (a === 'build.log' ? 1 : b === 'build.log' ? -1 : a < b ? -1 : 1))
        .map((f) => readFileSync(join(logs, 'ci/42', f), 'utf8'))
        .join('');
      assert.equal(all, lines.map((l) => `${l}\n`).join(''));
      // --console: the same lines on stdout (written asynchronously: wait for the last).
      let onData: (() => void) | undefined;
      await within(
        new Promise<void>((resolve) => {
          onData = () => {
            if (stdout.includes(lines.at(-1)!)) resolve();
          };
          child.stdout!.on('data', onData);
          onData();
        }),
        5000,
      );
      child.stdout!.off('data', onData!);
      for (const line of lines) assert.ok(stdout.includes(`${line}\n`), `${line} missing from stdout:\n${stdout}`);
    } finally {
      client.close();
      child.kill('SIGTERM');
    }
    const code = await within(exited, 15_000, 'timeout');
    if (code === 'timeout') child.kill('SIGKILL');
    assert.equal(code, 0, stderr);
  });
  it('--console never stops the server: a reader that stops reading, then one that is gone (EPIPE)', async function () {
    this.timeout(40_000);
    const port = await freePort();
    const child: ChildProcess = spawn(process.execPath, [BIN, 'scribe', '--path', join(dir, 'logs'), '--size', '-1', '--console', '--port', String(port)], {
      cwd: dir,
      env: env(dir, await freePort()),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const client: Client = rawClient(`127.0.0.1:${port}`);
    const log = (line: string) =>
      callRaw(
        client,
        '/com.romanostrechlis.scribe.api.LogScribe/Log',
        encode([
          [1, 'console'],
          [2, 'ci'],
          [3, line],
        ]),
        {},
        5000,
      );
    try {
      let stdout = 0;
      const counting = (c: Buffer) => (stdout += c.length);
      child.stdout!.on('data', counting);
      const deadline = Date.now() + READY_MS;
      for (;;) {
        try {
          await callRaw(client, '/com.romanostrechlis.scribe.api.Pinger/Ping', Buffer.alloc(0), {}, 1000);
          break;
        } catch (err) {
          if (Date.now() > deadline || child.exitCode !== null) throw new Error(`scribe did not start: ${String(err)}\n${stderr}`, { cause: err });
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      // Nobody reads stdout: the pipe (64 KiB) fills long before these 600 KB have been printed.
      child.stdout!.off('data', counting);
      child.stdout!.pause();
      const line = 'x'.repeat(1000);
      for (let i = 0; i < 600; i++) await log(`${i} ${line}`);
      assert.equal(child.exitCode, null, `the server stopped while its console was full:\n${stderr}`);
      // The reader goes: the next console write fails with EPIPE, and the console is switched off.
      child.stdout!.destroy();
      for (let i = 0; i < 50; i++) await log(`after ${i}`);
      assert.equal(child.exitCode, null, `the server stopped when its console's reader left:\n${stderr}`);
      const file = readFileSync(join(dir, 'logs', 'ci', 'console.log'), 'utf8');
      assert.equal(file.split('\n').length - 1, 650, 'every line is in the file');
    } finally {
      client.close();
      child.kill('SIGTERM');
    }
    const code = await within(exited, 15_000, 'timeout');
    if (code === 'timeout') child.kill('SIGKILL');
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stderr, /uncaught/);
  });
  it('takes its port from LOG_SERVICE_GRPC_BIND when --port is not given, as --path and --size fall back to theirs', async function () {
    this.timeout(30_000);
    const port = await freePort();
    const child: ChildProcess = spawn(process.execPath, [BIN, 'scribe', '--path', join(dir, 'logs')], {
      cwd: dir,
      env: { ...env(dir, await freePort()), LOG_SERVICE_GRPC_BIND: `127.0.0.1:${port}` },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const client: Client = rawClient(`127.0.0.1:${port}`);
    try {
      const deadline = Date.now() + READY_MS;
      for (;;) {
        try {
          await callRaw(client, '/com.romanostrechlis.scribe.api.Pinger/Ping', Buffer.alloc(0), {}, 1000);
          break;
        } catch (err) {
          if (Date.now() > deadline || child.exitCode !== null)
            throw new Error(`scribe did not answer on LOG_SERVICE_GRPC_BIND's port: ${String(err)}\n${stderr}`, { cause: err });
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    } finally {
      client.close();
      child.kill('SIGTERM');
    }
    const code = await within(exited, 15_000, 'timeout');
    if (code === 'timeout') child.kill('SIGKILL');
    assert.equal(code, 0, stderr);
  });
});
