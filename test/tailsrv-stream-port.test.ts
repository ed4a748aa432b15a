// The tail port of the main server (LOG_SERVICE_TAIL_BIND): tailsrv's
// multi-file grammar over log streams, with the HTTP tokens and TLS
// (docs/TAILSRV.md §6). Real server, real sockets.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { mintAccountToken } from '../handler/account-token.ts';
import { within } from './support/bounded-wait.ts';
import { startTestServer, type TestServer } from './support/in-process-server.ts';
import { makeTestCerts, type TestCerts } from './support/tls-certs.ts';
import { openTail, type TailClient, type TailClientOptions } from './support/tailsrv-client.ts';

const GLOBAL = 'tail-port-global';
const SECRET = 'tail-port-secret';

describe('tail port: log streams over the tailsrv protocol', function () {
  this.timeout(20_000);
  let server: TestServer;
  const clients: TailClient[] = [];
  const tail = async (header: string, options?: TailClientOptions) => {
    const client = await openTail(server.tailPort!, header, options);
    clients.push(client);
    return client;
  };
  const ask = async (header: string) => {
    const client = await tail(header);
    await client.ended();
    return client.text();
  };
  const ci = (id: string, path = 'stream') => `${server.url}/ci/p/${id}/s/t/${path}`;
  const push = (id: string, text: string) => fetch(ci(id), { method: 'PUT', body: text, headers: { 'Content-Type': 'text/plain' } });

  before(async () => {
    server = await startTestServer({ LOG_SERVICE_TAIL_BIND: '127.0.0.1:0', LOG_SERVICE_STREAM_MAX_LINES: '5', LOG_SERVICE_STREAM_CLOSED_GRACE_SECONDS: '0' });
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  after(async () => server.destroy());

  it('lists the open streams as <account>/<key> without auth, then closes', async () => {
    await fetch(ci('l1'), { method: 'POST' });
    await fetch(`${server.url}/stream?accountID=acme&key=harness/key`, { method: 'POST' });
    const listed = (await ask('list\n')).split('\n');
    assert.ok(listed.includes('default/p/l1/s/t'), listed.join(','));
    assert.ok(listed.includes('acme/harness/key'), listed.join(','));
  });

  it('streams raw text (the bytes of …/raw) live, and closes when the stream closes', async () => {
    await fetch(ci('s1'), { method: 'POST' });
    await push('s1', 'hello\nworld\n');
    const client = await tail('stream default/p/s1/s/t from start\n');
    await client.until((t) => t === 'hello\nworld\n');
    await push('s1', 'more é\n');
    await client.until((t) => t === 'hello\nworld\nmore é\n');
    await fetch(`${ci('s1')}?snapshot=true`, { method: 'DELETE' });
    await client.ended();
    assert.equal(client.text(), await (await fetch(ci('s1', 'raw'))).text());
  });

  it('serves every "from" form on a stream: byte N, byte -N, line N, end, and a byte past the end that waits', async () => {
    await fetch(ci('s2'), { method: 'POST' });
    await push('s2', 'one\ntwo\nthree\n');
    const cases: [string, string][] = [
      ['from byte 4', 'two\nthree\n'],
      ['from byte -6', 'three\n'],
      ['from byte -1000', 'one\ntwo\nthree\n'],
      ['from line 2', 'two\nthree\n'],
    ];
    for (const [from, expected] of cases) {
      const client = await tail(`stream default/p/s2/s/t ${from}\n`);
      await client.until((t) => t === expected);
    }
    const end = await tail('stream default/p/s2/s/t from end\n');
    const ahead = await tail('stream default/p/s2/s/t from byte 16\n');
    const lineAhead = await tail('stream default/p/s2/s/t from line 5\n');
    await within(new Promise((r) => setTimeout(r, 100)), 200);
    await push('s2', 'four\nfive\n');
    await end.until((t) => t === 'four\nfive\n');
    await ahead.until((t) => t === 'ur\nfive\n');
    await lineAhead.until((t) => t === 'five\n');
  });

  it('says so in an error line when the requested bytes are no longer held, instead of skipping them', async () => {
    await fetch(ci('s3'), { method: 'POST' });
    // A push of 25,002 lines keeps its newest 25,000 (handler/push-handler.ts): "1\n2\n" (bytes 0-3) is never held.
    const kept = 'z\n'.repeat(25_000);
    await push('s3', `1\n2\n${kept}`);
    assert.equal(await ask('stream default/p/s3/s/t from byte 2\n'), 'error: byte 2 is no longer held: the oldest byte is 4 (ask "from byte 4")\n');
    const start = await tail('stream default/p/s3/s/t from start\n');
    await start.until((t) => t === kept);
  });

  it('serves a finished log from its snapshot, then closes', async () => {
    await fetch(ci('s4'), { method: 'POST' });
    await push('s4', 'a\nb\nc\n');
    await fetch(`${ci('s4')}?snapshot=true`, { method: 'DELETE' });
    assert.equal(await ask('stream default/p/s4/s/t from start\n'), 'a\nb\nc\n');
    assert.equal(await ask('stream default/p/s4/s/t from byte -2\n'), 'c\n');
    assert.equal(await ask('stream default/p/s4/s/t from line 2\n'), 'b\nc\n');
    assert.equal(await ask('stream default/p/s4/s/t from end\n'), '');
  });

  it('answers an unknown stream, a bad name and a bad header with one error line', async () => {
    assert.match(await ask('stream default/p/none/s/t\n'), /^error: no stream or log for "p\/none\/s\/t" \(LOGSVC_STREAM_NOT_FOUND\)\n$/);
    assert.match(await ask('stream nokey\n'), /^error: with the global token a name is <account>\/<key>/);
    assert.match(await ask('stream default/a//b\n'), /^error: key must not contain empty segments.*\(LOGSVC_INVALID_KEY\)\n$/);
    assert.match(await ask('tail me\n'), /^error: unknown request "tail me"/);
    assert.match(await ask(`stream ${'x'.repeat(5000)}\n`), /^error: header line longer than 4096 bytes\n$/);
  });
});

describe('tail port: auth, TLS, slow clients and shutdown', function () {
  this.timeout(30_000);
  let certs: TestCerts;
  before(() => {
    certs = makeTestCerts();
  });

  it('with auth on: the first line is "auth <token>", with the same tokens and scopes as HTTP', async () => {
    const server = await startTestServer({ LOG_SERVICE_TAIL_BIND: '127.0.0.1:0', LOG_SERVICE_GLOBAL_TOKEN: GLOBAL, LOG_SERVICE_SECRET: SECRET });
    const opened: TailClient[] = [];
    const ask = async (header: string) => {
      const client = await openTail(server.tailPort!, header);
      opened.push(client);
      await client.ended();
      return client.text();
    };
    try {
      const auth = { Authorization: `Bearer ${GLOBAL}` };
      for (const key of ['web/1/s/a', 'web/2/s/b']) {
        await fetch(`${server.url}/stream?accountID=acme&key=${key}`, { method: 'POST', headers: auth });
        await fetch(`${server.url}/stream?accountID=acme&key=${key}`, { method: 'PUT', headers: { ...auth, 'Content-Type': 'text/plain' }, body: `${key}\n` });
      }
      const exp = Math.floor(Date.now() / 1000) + 3600;
      const account = mintAccountToken(SECRET, { accountID: 'acme', expiresAtSeconds: exp });
      const scoped = mintAccountToken(SECRET, { accountID: 'acme', expiresAtSeconds: exp, scope: { access: 'read', keyPrefix: 'web/1' } });
      const writer = mintAccountToken(SECRET, { accountID: 'acme', expiresAtSeconds: exp, scope: { access: 'write', keyPrefix: 'web' } });
      const other = mintAccountToken(SECRET, { accountID: 'other', expiresAtSeconds: exp });

      assert.match(await ask('list\n'), /^error: auth is on: send "auth <token>" as the first line \(LOGSVC_UNAUTHORIZED\)\n$/);
      assert.match(await ask('auth wrong\nlist\n'), /^error: the token is not valid \(LOGSVC_FORBIDDEN\)\n$/);
      assert.equal(await ask(`auth ${GLOBAL}\nlist\n`), 'acme/web/1/s/a\nacme/web/2/s/b\n');
      assert.equal(await ask(`auth ${account}\nlist\n`), 'web/1/s/a\nweb/2/s/b\n');
      assert.equal(await ask(`auth ${scoped}\nlist\n`), 'web/1/s/a\n');
      assert.match(await ask(`auth ${writer}\nlist\n`), /^error: the token is for write access only \(LOGSVC_FORBIDDEN\)\n$/);
      assert.match(await ask(`auth ${scoped}\nstream web/2/s/b from start\n`), /^error: the token only opens keys under "web\/1" \(LOGSVC_FORBIDDEN\)\n$/);
      assert.match(await ask(`auth ${other}\nstream web/1/s/a from start\n`), /^error: no stream or log for "web\/1\/s\/a"/);

      const byAccount = await openTail(server.tailPort!, `auth ${account}\r\nstream web/1/s/a from start\r\n`);
      opened.push(byAccount);
      await byAccount.until((t) => t === 'web/1/s/a\n');
      const byGlobal = await openTail(server.tailPort!, `auth ${GLOBAL}\nstream acme/web/2/s/b from start\n`);
      opened.push(byGlobal);
      await byGlobal.until((t) => t === 'web/2/s/b\n');
    } finally {
      for (const c of opened) c.close();
      await server.destroy();
    }
  });

  it('speaks TLS with the server certificate, and mutual TLS when a CA is set', async () => {
    const server = await startTestServer({
      LOG_SERVICE_TAIL_BIND: '127.0.0.1:0',
      LOG_SERVICE_TLS_CERT_FILE: certs.serverCert,
      LOG_SERVICE_TLS_KEY_FILE: certs.serverKey,
      LOG_SERVICE_TLS_CA_FILE: certs.caFile,
    });
    const opened: TailClient[] = [];
    try {
      const ca = certs.read(certs.caFile);
      const tls = { ca, cert: certs.read(certs.clientCert), key: certs.read(certs.clientKey) };
      // The stream is made through the backend: this test is about the tail port, not HTTPS.
      await server.services.context.stream.open('default/p/tls/s/t');
      await server.services.context.stream.push('default/p/tls/s/t', [{ out: 'secure\n' }]);
      const listed = await openTail(server.tailPort!, 'list\n', { tls });
      opened.push(listed);
      await listed.ended();
      assert.equal(listed.text(), 'default/p/tls/s/t\n');
      const streamed = await openTail(server.tailPort!, 'stream default/p/tls/s/t from start\n', { tls });
      opened.push(streamed);
      await streamed.until((t) => t === 'secure\n');
      await server.services.context.stream.push('default/p/tls/s/t', [{ out: 'still secure\n' }]);
      await streamed.until((t) => t === 'secure\nstill secure\n');
      // Without a client certificate, or with a stranger's, nothing gets past the handshake.
      const anonymous = await openTail(server.tailPort!, 'list\n', { tls: { ca } });
      opened.push(anonymous);
      await anonymous.ended();
      assert.equal(anonymous.text(), '');
      const stranger = await openTail(server.tailPort!, 'list\n', { tls: { ca, cert: certs.read(certs.strangerCert), key: certs.read(certs.strangerKey) } });
      opened.push(stranger);
      await stranger.ended();
      assert.equal(stranger.text(), '');
      const plain = await openTail(server.tailPort!, 'list\n');
      opened.push(plain);
      await plain.ended();
      assert.ok(!plain.text().includes('error'), 'a plaintext client gets no protocol answer');
    } finally {
      for (const c of opened) c.close();
      await server.destroy();
    }
  });

  it('with TLS, a client that never starts its handshake does not hold the shutdown', async () => {
    const server = await startTestServer({
      LOG_SERVICE_TAIL_BIND: '127.0.0.1:0',
      LOG_SERVICE_TLS_CERT_FILE: certs.serverCert,
      LOG_SERVICE_TLS_KEY_FILE: certs.serverKey,
    });
    // Plain TCP that sends nothing: no ClientHello, so the TLS server never hands it to the tail port.
    const silent = connect(server.tailPort!, '127.0.0.1');
    silent.on('error', () => undefined);
    await new Promise<void>((resolve) => silent.once('connect', () => resolve()));
    const closed = new Promise<void>((resolve) => silent.once('close', () => resolve()));
    try {
      // LOG_SERVICE_SHUTDOWN_GRACE_SECONDS is 1 in the test server: the stop must end, and cut the socket.
      assert.equal(await within(server.destroy(), 10_000, 'hung'), undefined, 'the shutdown ended');
      assert.equal(await within(closed, 5000, 'open'), undefined, 'the silent socket was closed');
    } finally {
      silent.destroy();
    }
  });

  it('delivers every byte to a reading client while another stops reading, and never holds the writer', async () => {
    const server = await startTestServer({ LOG_SERVICE_TAIL_BIND: '127.0.0.1:0' });
    const opened: TailClient[] = [];
    try {
      const url = `${server.url}/ci/p/slow/s/t/stream`;
      await fetch(url, { method: 'POST' });
      const stalled = await openTail(server.tailPort!, 'stream default/p/slow/s/t from start\n', { paused: true });
      const reader = await openTail(server.tailPort!, 'stream default/p/slow/s/t from start\n');
      opened.push(stalled, reader);
      const body = `${'x'.repeat(999)}\n`.repeat(200);
      // 8 MB: far more than the stalled client's socket buffers take.
      for (let i = 0; i < 40; i++) {
        const res = await within(fetch(url, { method: 'PUT', body, headers: { 'Content-Type': 'text/plain' } }), 5000);
        assert.equal(res?.status, 204, 'a push is never held back by the stalled client');
      }
      await fetch(url, { method: 'DELETE' });
      await reader.ended(15_000);
      assert.equal(reader.bytes().length, body.length * 40);
      assert.ok(reader.text() === body.repeat(40), 'every byte, in order');
    } finally {
      for (const c of opened) c.close();
      await server.destroy();
    }
  });

  it('ends a live tail cleanly on shutdown, after the bytes it was sent', async () => {
    const server = await startTestServer({ LOG_SERVICE_TAIL_BIND: '127.0.0.1:0' });
    await fetch(`${server.url}/ci/p/sd/s/t/stream`, { method: 'POST' });
    await fetch(`${server.url}/ci/p/sd/s/t/stream`, { method: 'PUT', body: 'bye\n', headers: { 'Content-Type': 'text/plain' } });
    const following = await openTail(server.tailPort!, 'stream default/p/sd/s/t from start\n');
    const inHeader = await openTail(server.tailPort!, 'stream default/p');
    await following.until((t) => t === 'bye\n');
    await server.destroy();
    await following.ended(2000);
    await inHeader.ended(2000);
    assert.equal(following.text(), 'bye\n');
    assert.equal(inHeader.text(), 'error: the server is shutting down\n');
    following.close();
    inHeader.close();
  });
});
