// The client's handling of odd input (issue: typed client).
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { clientOptionsFromEnv, LogServiceClient } from '../client/index.ts';
import { runCli } from './support/cli-process.ts';

describe('client input checks', function () {
  this.timeout(20000);

  it('refuses a server URL with a user name or password, without echoing it', async () => {
    assert.throws(
      () => new LogServiceClient({ server: 'http://user:s3cret@127.0.0.1:8079' }),
      (err: Error) => err instanceof TypeError && !err.message.includes('s3cret'),
    );
    const res = await runCli(['cistream', 'info', '--server', 'http://user:s3cret@127.0.0.1:1']);
    assert.equal(res.code, 2);
    assert.doesNotMatch(res.stderr, /s3cret/);
  });

  it('fromEnv takes the server and token from LOG_SERVICE_SERVER / LOG_SERVICE_TOKEN, options winning, never the token alone', async () => {
    const seen: (string | undefined)[] = [];
    const server = http.createServer((req, res) => {
      seen.push(req.headers['x-harness-token'] as string | undefined);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"streams":{}}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const env = { LOG_SERVICE_SERVER: url, LOG_SERVICE_TOKEN: 'from-env' };
    try {
      await LogServiceClient.fromEnv(env).listStreams();
      await LogServiceClient.fromEnv(env, { token: 'from-option' }).listStreams();
      await LogServiceClient.fromEnv(env, { token: null }).listStreams();
      // A server given in the overrides does not get the environment's token…
      await LogServiceClient.fromEnv(env, { server: url }).listStreams();
      // …unless the token is given with it.
      await LogServiceClient.fromEnv(env, { server: url, token: 'with-server' }).listStreams();
      assert.deepEqual(seen, ['from-env', 'from-option', undefined, undefined, 'with-server']);
      assert.equal(LogServiceClient.fromEnv(env).server.href, `${url}/`);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('clientOptionsFromEnv: the token goes with the default server when no server is set anywhere; empty variables are unset', () => {
    assert.deepEqual(clientOptionsFromEnv({ LOG_SERVICE_TOKEN: 't' }), { token: 't' });
    assert.deepEqual(clientOptionsFromEnv({ LOG_SERVICE_SERVER: '', LOG_SERVICE_TOKEN: '' }), {});
    assert.deepEqual(clientOptionsFromEnv({ LOG_SERVICE_SERVER: 'http://a', LOG_SERVICE_TOKEN: 't' }, { retries: 0 }), {
      server: 'http://a',
      token: 't',
      retries: 0,
    });
    assert.deepEqual(clientOptionsFromEnv({ LOG_SERVICE_SERVER: 'http://a', LOG_SERVICE_TOKEN: 't' }, { server: 'http://b' }), { server: 'http://b' });
    assert.deepEqual(clientOptionsFromEnv({}, { server: 'http://b', token: 'u' }), { server: 'http://b', token: 'u' });
  });

  it('the constructor reads no environment variable; fromEnv() without arguments reads process.env', async () => {
    const seen: (string | undefined)[] = [];
    const server = http.createServer((req, res) => {
      seen.push(req.headers['x-harness-token'] as string | undefined);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"streams":{}}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const saved = { server: process.env.LOG_SERVICE_SERVER, token: process.env.LOG_SERVICE_TOKEN };
    try {
      process.env.LOG_SERVICE_SERVER = url;
      process.env.LOG_SERVICE_TOKEN = 'from-env';
      assert.equal(new LogServiceClient().server.href, 'http://127.0.0.1:8079/');
      await new LogServiceClient({ server: url }).listStreams();
      assert.equal(LogServiceClient.fromEnv().server.href, `${url}/`);
      await LogServiceClient.fromEnv().listStreams();
      assert.deepEqual(seen, [undefined, 'from-env']);
    } finally {
      for (const [name, value] of [
        ['LOG_SERVICE_SERVER', saved.server],
        ['LOG_SERVICE_TOKEN', saved.token],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      server.closeAllConnections();
      server.close();
    }
  });

  it('treats a --ca-file, --cert-file or --key-file that is a directory as bad usage naming the option', async () => {
    const { tmpdir } = await import('node:os');
    const res = await runCli(['cistream', 'info', '--ca-file', tmpdir(), '--server', 'https://127.0.0.1:1']);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /^log-service: --ca-file: ".*" is not a file/);
  });

  it('treats a download -o that is a directory or has no parent directory as bad usage (exit 2), writing nothing', async () => {
    const { tmpdir } = await import('node:os');
    for (const output of [tmpdir(), '/nonexistent-dir/x.log']) {
      const res = await runCli(['cistore', 'download', 'p', '1', 's', 't', '-o', output, '--server', 'http://127.0.0.1:1']);
      assert.equal(res.code, 2, res.stderr);
      assert.match(res.stderr, /^log-service: -o /);
    }
  });

  it('ends a push with LOGSVC_ABORTED when its signal aborts while the source is quiet', async () => {
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(204);
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { PassThrough } = await import('node:stream');
      const quiet = new PassThrough();
      quiet.write('first line\n'); // then nothing more, and never ended
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 200);
      const started = Date.now();
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      await assert.rejects(
        new LogServiceClient({ server: url }).stream({ project: 'p', build: '1', stage: 's', step: 't' }).push(quiet, { signal: ac.signal }),
        { code: 'LOGSVC_ABORTED' },
      );
      assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
    } finally {
      server.close();
    }
  });

  it('cuts an over-long string in an array push into several lines, losing no byte', async () => {
    const bodies: string[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => {
        body += c;
      });
      req.on('end', () => {
        bodies.push(body);
        res.writeHead(204);
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const long = 'x'.repeat(100_000);
      await new LogServiceClient({ server: url }).stream({ project: 'p', build: '1', stage: 's', step: 't' }).push([long, 'short']);
      const lines = bodies
        .join('')
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as { out: string }).out);
      assert.ok(lines.length >= 3, `${lines.length} lines`);
      assert.ok(lines.every((l) => Buffer.byteLength(l) <= 64 * 1024));
      assert.equal(lines.join(''), `${long}\nshort\n`);
    } finally {
      server.close();
    }
  });
});
