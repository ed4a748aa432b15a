// `log-service token` against a real server process.
import assert from 'node:assert/strict';
import { runCli } from './support/cli-process.ts';
import { startServer, type ServerProcess } from './support/server-process.ts';

describe('log-service token (CLI against a server process)', function () {
  this.timeout(60000);
  let server: ServerProcess;
  before(async () => {
    server = await startServer({ LOG_SERVICE_GLOBAL_TOKEN: 'cli-global', LOG_SERVICE_SECRET: 'cli-secret' });
  });
  after(async () => server.stop());
  const env = (token = 'cli-global') => ({ LOG_SERVICE_SERVER: server.url, LOG_SERVICE_TOKEN: token });

  it('mints a scoped write token that can push to its build and nothing else', async () => {
    const minted = await runCli(['token', '--account', 'acme', '--key', 'web/42', '--access', 'write', '--ttl', '600'], { env: env() });
    assert.equal(minted.code, 0, minted.stderr);
    const token = minted.stdout.toString().trim();
    assert.match(token, /^[A-Za-z0-9_-]+=*$/);
    const open = await runCli(['cistream', 'open', 'web', '42', 'test', 'unit'], { env: env(token) });
    assert.equal(open.code, 0, open.stderr);
    const other = await runCli(['cistream', 'open', 'web', '43', 'test', 'unit'], { env: env(token) });
    assert.equal(other.code, 1);
    assert.match(other.stderr, /LOGSVC_FORBIDDEN/);
  });

  it('mints an account token in the Harness format', async () => {
    const minted = await runCli(['token', '--account', 'acme'], { env: env() });
    assert.equal(minted.code, 0, minted.stderr);
    const raw = Buffer.from(minted.stdout.toString().trim(), 'base64url');
    assert.equal(raw.subarray(4, raw.length - 32).toString(), 'acme');
  });

  it('reads the server and token from ./.env like the other commands', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const cwd = await mkdtemp(join(tmpdir(), 'logsvc-token-env-'));
    try {
      await writeFile(join(cwd, '.env'), `LOG_SERVICE_SERVER=${server.url}\nLOG_SERVICE_TOKEN=cli-global\n`);
      const minted = await runCli(['token', '--account', 'acme'], { cwd });
      assert.equal(minted.code, 0, minted.stderr);
      assert.match(minted.stdout.toString(), /^[A-Za-z0-9_-]+=*\n$/);
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });

  it('exits 1 with one line when the token is not the global token, and 2 on bad usage', async () => {
    const denied = await runCli(['token', '--account', 'acme'], { env: env('not-global') });
    assert.equal(denied.code, 1);
    assert.equal(denied.stderr.trim().split('\n').length, 1);
    const usage = await runCli(['token', '--account', 'acme', '--key', 'web/42'], { env: env() });
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--key and --access go together/);
  });
});
