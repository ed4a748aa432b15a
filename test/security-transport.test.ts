// TLS, mutual TLS, the startup policy and secrets in logs (docs/SECURITY.md).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import https from 'node:https';
import { rmSync } from 'node:fs';
import { startTestServer, type TestServer } from './support/in-process-server.ts';
import { BIN, cleanEnv, freePort, startServer } from './support/server-process.ts';
import { makeTestCerts, type TestCerts } from './support/tls-certs.ts';

function httpsGet(url: string, options: https.RequestOptions): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

describe('TLS', function () {
  this.timeout(60000);
  let certs: TestCerts;
  before(() => {
    certs = makeTestCerts();
  });
  after(() => rmSync(certs.dir, { recursive: true, force: true }));

  describe('server certificate only', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ LOG_SERVICE_TLS_CERT_FILE: certs.serverCert, LOG_SERVICE_TLS_KEY_FILE: certs.serverKey });
    });
    after(async () => server.destroy());

    it('serves HTTPS with the configured certificate', async () => {
      assert.match(server.url, /^https:\/\//);
      const r = await httpsGet(`${server.url}/healthz`, { ca: certs.read(certs.caFile) });
      assert.deepEqual(r, { status: 200, body: '{"status":"ok"}' });
    });

    it('does not answer plain HTTP on the TLS port', async () => {
      const plain = server.url.replace('https://', 'http://');
      const outcome = await fetch(`${plain}/healthz`).then(
        (r) => r.status,
        () => 'refused',
      );
      assert.notEqual(outcome, 200);
    });

    it('hands out https links', async () => {
      const res = await new Promise<string>((resolve, reject) => {
        const req = https.request(`${server.url}/blob/link/download?accountID=a&key=k`, { method: 'POST', ca: certs.read(certs.caFile) }, (r) => {
          let body = '';
          r.on('data', (c: Buffer) => {
            body += c.toString();
          });
          r.on('end', () => resolve(body));
        });
        req.on('error', reject);
        req.end();
      });
      assert.match((JSON.parse(res) as { link: string }).link, /^https:\/\//);
    });
  });

  describe('mutual TLS', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({
        LOG_SERVICE_TLS_CERT_FILE: certs.serverCert,
        LOG_SERVICE_TLS_KEY_FILE: certs.serverKey,
        LOG_SERVICE_TLS_CA_FILE: certs.caFile,
      });
    });
    after(async () => server.destroy());

    it('accepts a client certificate signed by the configured CA', async () => {
      const r = await httpsGet(`${server.url}/healthz`, { ca: certs.read(certs.caFile), cert: certs.read(certs.clientCert), key: certs.read(certs.clientKey) });
      assert.equal(r.status, 200);
    });

    it('refuses a client without a certificate', async () => {
      await assert.rejects(httpsGet(`${server.url}/healthz`, { ca: certs.read(certs.caFile) }));
    });

    it('refuses a client certificate from another CA', async () => {
      await assert.rejects(
        httpsGet(`${server.url}/healthz`, {
          ca: certs.read(certs.caFile),
          cert: certs.read(certs.strangerCert),
          key: certs.read(certs.strangerKey),
        }),
      );
    });
  });

  it('refuses to start when a TLS file is missing, instead of falling back to plain HTTP', async () => {
    const result = await runServerExpectingExit({ LOG_SERVICE_TLS_CERT_FILE: '/nonexistent.crt', LOG_SERVICE_TLS_KEY_FILE: certs.serverKey });
    assert.equal(result.code, 1);
    assert.match(result.output, /LOG_SERVICE_TLS_CERT_FILE: no such file/);
  });
});

async function runServerExpectingExit(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'server'], {
    env: { ...cleanEnv(), LOG_SERVICE_HTTP_BIND: `127.0.0.1:${port}`, LOG_SERVICE_LMDB_PATH: '/tmp/logsvc-never-used/db', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, output };
}

describe('startup policy and configuration errors', function () {
  this.timeout(60000);

  it('refuses to listen beyond loopback without a token, saying what to set', async () => {
    const port = await freePort();
    const result = await runServerExpectingExit({ LOG_SERVICE_HTTP_BIND: `0.0.0.0:${port}` });
    assert.equal(result.code, 1);
    assert.match(result.output, /refusing to listen on 0\.0\.0\.0:\d+ without a token: set LOG_SERVICE_GLOBAL_TOKEN/);
  });

  it('starts beyond loopback when auth is disabled explicitly, and says so', async () => {
    const port = await freePort();
    const server = await startServer({ LOG_SERVICE_HTTP_BIND: `0.0.0.0:${port}`, LOG_SERVICE_DISABLE_AUTH: 'true', LOG_SERVICE_LOG_LEVEL: 'info' });
    try {
      assert.match(server.output(), /auth: OFF/);
    } finally {
      await server.stop();
    }
  });

  it('exits 1 with one clear message per bad setting', async () => {
    const result = await runServerExpectingExit({
      LOG_SERVICE_HTTP_BIND: 'nonsense',
      LOG_SERVICE_STREAM_MAX_LINES: 'many',
      LOG_SERVICE_MAX_PUSH_BYTES: '8 parsecs',
      LOG_SERVICE_S3_ENDPOINT: 'not a url',
    });
    assert.equal(result.code, 1);
    assert.match(result.output, /invalid configuration/);
    assert.match(result.output, /LOG_SERVICE_HTTP_BIND: expected host:port/);
    assert.match(result.output, /LOG_SERVICE_STREAM_MAX_LINES/);
    assert.match(result.output, /LOG_SERVICE_MAX_PUSH_BYTES: expected a size such as/);
    assert.match(result.output, /LOG_SERVICE_S3_ENDPOINT/);
    assert.doesNotMatch(result.output, /at .*\.ts:\d+/, 'no stack trace');
  });

  it('never writes tokens to its logs, even from query strings', async () => {
    const server = await startServer({ LOG_SERVICE_GLOBAL_TOKEN: 'sup3r-s3cret-global', LOG_SERVICE_LOG_LEVEL: 'debug' });
    try {
      await fetch(`${server.url}/blob?accountID=a&key=k&token=sup3r-s3cret-global`);
      await fetch(`${server.url}/blob?accountID=a&key=k`, { headers: { 'X-Harness-Token': 'sup3r-s3cret-wrong' } });
      await fetch(`${server.url}/blob/link/download?accountID=a&key=k`, { method: 'POST', headers: { Authorization: 'Bearer sup3r-s3cret-global' } });
      const link = (await (
        await fetch(`${server.url}/blob/link/download?accountID=a&key=k`, { method: 'POST', headers: { 'X-Harness-Token': 'sup3r-s3cret-global' } })
      ).json()) as { link: string };
      await fetch(link.link);
      // The query parser decodes names, so an encoded name is still a token: it is redacted as one.
      const encoded = await fetch(`${server.url}/blob?accountID=a&key=k&%74oken=sup3r-s3cret-global&TOKEN=sup3r-s3cret-upper&t%6Fken=sup3r-s3cret-x`);
      assert.equal(encoded.status, 404, 'the encoded token was accepted: the blob is simply missing');
      await fetch(`${server.url}/ci/p/b/s/t/raw?%73ig=sup3r-s3cret-sig&to+ken=kept`);
      await new Promise((r) => setTimeout(r, 300));
      const out = server.output();
      assert.match(out, /"url":"\/blob\?accountID=a&key=k&token=\[redacted\]"/, 'requests are logged');
      assert.doesNotMatch(out, /sup3r-s3cret/);
      assert.match(out, /%74oken=\[redacted\]&TOKEN=\[redacted\]&t%6Fken=\[redacted\]/);
      assert.match(out, /to\+ken=kept/, 'other parameters are logged as sent');
      const sig = new URL(link.link).searchParams.get('sig')!;
      assert.ok(!out.includes(sig), 'link signatures are redacted too');
    } finally {
      await server.stop();
    }
  });
});
