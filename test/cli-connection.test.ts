// Where the CLI's server and token come from: the command line, the
// environment, ./.env — resolved by the client's clientOptionsFromEnv, so the
// CLI and the library follow one rule: the environment's token goes only to
// the environment's server.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './support/cli-process.ts';

describe('CLI connection: server and token', function () {
  this.timeout(60_000);
  const seen: (string | undefined)[] = [];
  let server: http.Server;
  let url: string;
  before(async () => {
    server = http.createServer((req, res) => {
      seen.push(req.headers['x-harness-token'] as string | undefined);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"streams":{}}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  beforeEach(() => {
    seen.length = 0;
  });

  it('sends LOG_SERVICE_TOKEN to LOG_SERVICE_SERVER, and --token wins over it', async () => {
    const env = { LOG_SERVICE_SERVER: url, LOG_SERVICE_TOKEN: 'from-env' };
    const fromEnv = await runCli(['cistream', 'info'], { env });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.equal(fromEnv.stderr, '');
    const flag = await runCli(['cistream', 'info', '--token', 'from-flag'], { env });
    assert.equal(flag.code, 0, flag.stderr);
    const none = await runCli(['cistream', 'info', '--token', ''], { env });
    assert.equal(none.code, 0, none.stderr);
    assert.deepEqual(seen, ['from-env', 'from-flag', undefined]);
  });

  it('does not send LOG_SERVICE_TOKEN to a --server from the command line, and says so on stderr', async () => {
    const res = await runCli(['cistream', 'info', '--server', url], { env: { LOG_SERVICE_TOKEN: 'from-env' } });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /^log-service: LOG_SERVICE_TOKEN is not sent to --server .*pass --token/);
    const withToken = await runCli(['cistream', 'info', '--server', url, '--token', 'from-flag'], { env: { LOG_SERVICE_TOKEN: 'from-env' } });
    assert.equal(withToken.code, 0, withToken.stderr);
    assert.equal(withToken.stderr, '');
    assert.deepEqual(seen, [undefined, 'from-flag']);
  });

  it('takes both from ./.env, the real environment winning over the file', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'log-service-cli-env-'));
    writeFileSync(join(cwd, '.env'), `LOG_SERVICE_SERVER=${url}\nLOG_SERVICE_TOKEN=from-file\n`);
    try {
      const file = await runCli(['cistream', 'info'], { cwd });
      assert.equal(file.code, 0, file.stderr);
      const real = await runCli(['cistream', 'info'], { cwd, env: { LOG_SERVICE_TOKEN: 'from-env' } });
      assert.equal(real.code, 0, real.stderr);
      assert.deepEqual(seen, ['from-file', 'from-env']);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('names LOG_SERVICE_SERVER when the variable is not a URL (exit 2)', async () => {
    const res = await runCli(['cistream', 'info'], { env: { LOG_SERVICE_SERVER: 'not a url' } });
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /^log-service: LOG_SERVICE_SERVER: not a URL: "not a url"/);
  });
});
