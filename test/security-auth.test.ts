// Every route × every kind of credential (DESIGN §8).
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { startTestServer, type TestServer } from './support/in-process-server.ts';

const GLOBAL = 'the-global-token';
const SECRET = 'the-signing-secret';

/** An independent implementation of the Harness account token, straight from the formula. */
function harnessToken(secret: string, accountID: string, expiresAt: number, extra = Buffer.alloc(0)): string {
  const exp = Buffer.alloc(4);
  exp.writeUInt32BE(expiresAt);
  const msg = Buffer.concat([exp, Buffer.from(accountID), extra]);
  const inner = createHmac('sha256', secret).update(msg).digest();
  const sig = createHmac('sha256', inner).update(msg).digest();
  const raw = Buffer.concat([msg, sig]);
  // base64url WITH padding, as Go's base64.URLEncoding produces
  return raw.toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

const now = () => Math.floor(Date.now() / 1000);

interface Route {
  name: string;
  method: string;
  access: 'read' | 'write';
  /** Path for account `acct` and key `p/b/s/t` (Harness) or ids p/b/s/t (CI). */
  path: string;
  ci: boolean;
  body?: string;
}

const H = (path: string, key = 'p/b/s/t') => `${path}?accountID=acct&key=${encodeURIComponent(key)}`;
const ROUTES: Route[] = [
  { name: 'open stream', method: 'POST', access: 'write', path: H('/stream'), ci: false },
  { name: 'push', method: 'PUT', access: 'write', path: H('/stream'), ci: false, body: '[{"out":"x\\n"}]' },
  { name: 'tail', method: 'GET', access: 'read', path: H('/stream'), ci: false },
  { name: 'close stream', method: 'DELETE', access: 'write', path: H('/stream'), ci: false },
  { name: 'stream info', method: 'GET', access: 'read', path: '/stream/info?accountID=acct', ci: false },
  { name: 'upload blob (POST)', method: 'POST', access: 'write', path: H('/blob'), ci: false, body: 'blob' },
  { name: 'upload blob (PUT)', method: 'PUT', access: 'write', path: H('/blob'), ci: false, body: 'blob' },
  { name: 'download blob', method: 'GET', access: 'read', path: H('/blob'), ci: false },
  { name: 'head blob', method: 'HEAD', access: 'read', path: H('/blob'), ci: false },
  { name: 'blob exists', method: 'GET', access: 'read', path: H('/blob/exists'), ci: false },
  { name: 'delete blob', method: 'DELETE', access: 'write', path: H('/blob'), ci: false },
  { name: 'upload link', method: 'POST', access: 'write', path: H('/blob/link/upload'), ci: false },
  { name: 'download link', method: 'POST', access: 'read', path: H('/blob/link/download'), ci: false },
  { name: 'CI open', method: 'POST', access: 'write', path: '/ci/p/b/s/t/stream', ci: true },
  { name: 'CI push', method: 'PUT', access: 'write', path: '/ci/p/b/s/t/stream', ci: true, body: '[{"out":"x\\n"}]' },
  { name: 'CI tail', method: 'GET', access: 'read', path: '/ci/p/b/s/t/stream', ci: true },
  { name: 'CI close', method: 'DELETE', access: 'write', path: '/ci/p/b/s/t/stream', ci: true },
  { name: 'CI info', method: 'GET', access: 'read', path: '/ci/streams', ci: true },
  { name: 'CI upload', method: 'PUT', access: 'write', path: '/ci/p/b/s/t/blob', ci: true, body: 'blob' },
  { name: 'CI download', method: 'GET', access: 'read', path: '/ci/p/b/s/t/blob', ci: true },
  { name: 'CI head', method: 'HEAD', access: 'read', path: '/ci/p/b/s/t/blob', ci: true },
  { name: 'CI delete blob', method: 'DELETE', access: 'write', path: '/ci/p/b/s/t/blob', ci: true },
  { name: 'CI upload link', method: 'POST', access: 'write', path: '/ci/p/b/s/t/blob/link/upload', ci: true },
  { name: 'CI download link', method: 'POST', access: 'read', path: '/ci/p/b/s/t/blob/link/download', ci: true },
];

describe('authentication and authorization on every route', function () {
  this.timeout(60000);
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ LOG_SERVICE_GLOBAL_TOKEN: GLOBAL, LOG_SERVICE_SECRET: SECRET, LOG_SERVICE_PING_INTERVAL_SECONDS: '0.1' });
  });
  after(async () => server.destroy());

  async function send(route: Route, headers: Record<string, string>): Promise<{ status: number; code?: string }> {
    const ac = new AbortController();
    const res = await fetch(`${server.url}${route.path}`, { method: route.method, headers, body: route.body, signal: ac.signal });
    let code: string | undefined;
    if (res.status >= 400 && route.method !== 'HEAD') code = ((await res.json()) as { code: string }).code;
    ac.abort(); // tails would stay open
    return { status: res.status, code };
  }

  const tokens = {
    wrong: () => 'not-a-token',
    forged: () => harnessToken('another-secret', 'acct', now() + 3600),
    expired: () => harnessToken(SECRET, 'acct', now() - 10),
    otherAccount: () => harnessToken(SECRET, 'other', now() + 3600),
    account: () => harnessToken(SECRET, 'acct', now() + 3600),
  };

  for (const route of ROUTES) {
    describe(`${route.name} (${route.method} ${route.path.split('?')[0]})`, () => {
      it('answers 401 LOGSVC_UNAUTHORIZED without credentials', async () => {
        assert.deepEqual(await send(route, {}), { status: 401, code: route.method === 'HEAD' ? undefined : 'LOGSVC_UNAUTHORIZED' });
      });
      it('answers 403 to a wrong token and to a token signed with another secret', async () => {
        assert.equal((await send(route, { 'X-Harness-Token': tokens.wrong() })).status, 403);
        assert.equal((await send(route, { Authorization: `Bearer ${tokens.forged()}` })).status, 403);
      });
      it('answers 403 LOGSVC_TOKEN_EXPIRED to an expired account token', async () => {
        const r = await send(route, { 'X-Harness-Token': tokens.expired() });
        assert.equal(r.status, 403);
        if (route.method !== 'HEAD') assert.equal(r.code, 'LOGSVC_TOKEN_EXPIRED');
      });
      if (!route.ci) {
        it("answers 403 to another account's token", async () => {
          const r = await send(route, { 'X-Harness-Token': tokens.otherAccount() });
          assert.equal(r.status, 403);
          if (route.method !== 'HEAD') assert.equal(r.code, 'LOGSVC_FORBIDDEN');
        });
      }
      it('answers 403 to a token scoped to the other access or to another key prefix', async () => {
        const other = route.access === 'read' ? 'write' : 'read';
        const wrongAccess = await (await fetch(`${server.url}/token?accountID=acct&key=p/b&access=${other}`, { headers: { 'X-Harness-Token': GLOBAL } })).text();
        assert.equal((await send(route, { 'X-Harness-Token': wrongAccess })).status, 403, `${other} token`);
        if (!route.path.includes('info') && !route.path.includes('streams')) {
          const wrongKey = await (await fetch(`${server.url}/token?accountID=acct&key=p/other&access=${route.access}`, { headers: { 'X-Harness-Token': GLOBAL } })).text();
          assert.equal((await send(route, { 'X-Harness-Token': wrongKey })).status, 403, 'token for another prefix');
        }
      });
      it('lets the global token, the account token and a matching scoped token through', async () => {
        const scoped = await (await fetch(`${server.url}/token?accountID=acct&key=p/b&access=${route.access}`, { headers: { 'X-Harness-Token': GLOBAL } })).text();
        for (const token of [GLOBAL, tokens.account(), scoped]) {
          const r = await send(route, { 'X-Harness-Token': token });
          assert.ok(r.status !== 401 && r.status !== 403, `${route.name} with a valid token got ${r.status} ${r.code}`);
        }
      });
    });
  }

  describe('tokens', () => {
    it('mints account tokens in the Harness format with GET /token (global token only)', async () => {
      const res = await fetch(`${server.url}/token?accountID=acct`, { headers: { 'X-Harness-Token': GLOBAL } });
      assert.equal(res.status, 200);
      const token = await res.text();
      const raw = Buffer.from(token, 'base64url');
      assert.equal(raw.subarray(4, raw.length - 32).toString(), 'acct');
      const exp = raw.readUInt32BE(0);
      assert.ok(Math.abs(exp - (now() + 48 * 3600)) < 60, 'default lifetime 48 h');
      assert.equal(harnessToken(SECRET, 'acct', exp), token, 'identical to an independent implementation, padding included');
      const denied = await fetch(`${server.url}/token?accountID=acct`, { headers: { 'X-Harness-Token': token } });
      assert.equal(denied.status, 403);
      assert.equal((await fetch(`${server.url}/token?accountID=acct`)).status, 401);
    });

    it('accepts a Harness-minted token on the CI routes and uses its account', async () => {
      const token = harnessToken(SECRET, 'team-a', now() + 600);
      assert.equal((await fetch(`${server.url}/ci/p/b/s/t/blob`, { method: 'PUT', body: 'team a', headers: { 'X-Harness-Token': token } })).status, 204);
      const viaHarness = await fetch(`${server.url}/blob?accountID=team-a&key=p/b/s/t`, { headers: { 'X-Harness-Token': GLOBAL } });
      assert.equal(await viaHarness.text(), 'team a');
    });

    it('filters stream info to the scope of a read token', async () => {
      for (const k of ['p/b/s/t', 'p/x/s/t']) await fetch(`${server.url}/stream?accountID=acct&key=${k}`, { method: 'POST', headers: { 'X-Harness-Token': GLOBAL } });
      const read = await (await fetch(`${server.url}/token?accountID=acct&key=p/b&access=read`, { headers: { 'X-Harness-Token': GLOBAL } })).text();
      const info = (await (await fetch(`${server.url}/stream/info?accountID=acct`, { headers: { 'X-Harness-Token': read } })).json()) as { streams: Record<string, unknown> };
      assert.deepEqual(Object.keys(info.streams), ['p/b/s/t']);
    });

    it('accepts ?token= only on GET tails and downloads, not on writes', async () => {
      const account = tokens.account();
      await fetch(`${server.url}/blob?accountID=acct&key=q/1`, { method: 'PUT', body: 'q', headers: { 'X-Harness-Token': GLOBAL } });
      assert.equal((await fetch(`${server.url}/blob?accountID=acct&key=q/1&token=${account}`)).status, 200);
      assert.equal((await fetch(`${server.url}/blob?accountID=acct&key=q/2&token=${account}`, { method: 'PUT', body: 'x' })).status, 401);
      const ac = new AbortController();
      const tail = await fetch(`${server.url}/ci/p/b/s/t/stream?token=${GLOBAL}`, { signal: ac.signal });
      assert.notEqual(tail.status, 401);
      ac.abort();
    });

    it('keeps prefix operations of a scoped token inside its scope (close by prefix, zip)', async () => {
      const g = { 'X-Harness-Token': GLOBAL };
      for (const k of ['sc/b/s/t', 'sc/bb/victim/step']) {
        await fetch(`${server.url}/stream?accountID=acct&key=${k}`, { method: 'POST', headers: g });
        await fetch(`${server.url}/blob?accountID=acct&key=${k}`, { method: 'PUT', body: `blob of ${k}`, headers: g });
      }
      const mint = async (access: string) => (await fetch(`${server.url}/token?accountID=acct&key=sc/b&access=${access}`, { headers: g })).text();
      const write = { 'X-Harness-Token': await mint('write') };
      const read = { 'X-Harness-Token': await mint('read') };
      // "sc/b" as a string prefix would reach "sc/bb/…": refused; "sc/b/" is fine.
      assert.equal((await fetch(`${server.url}/stream?accountID=acct&key=sc/b&prefix=true`, { method: 'DELETE', headers: write })).status, 403);
      assert.equal((await fetch(`${server.url}/blob/download?accountID=acct&prefix=sc/b`, { method: 'POST', headers: read })).status, 403);
      assert.equal((await fetch(`${server.url}/stream?accountID=acct&key=sc/b/&prefix=true`, { method: 'DELETE', headers: write })).status, 204);
      const info = (await (await fetch(`${server.url}/stream/info?accountID=acct`, { headers: g })).json()) as { streams: Record<string, unknown> };
      assert.ok('sc/bb/victim/step' in info.streams, 'the stream outside the scope is still open');
      assert.ok(!('sc/b/s/t' in info.streams));
      const zip = await fetch(`${server.url}/blob/download?accountID=acct&prefix=sc/b/`, { method: 'POST', headers: read });
      assert.equal(zip.status, 200);
    });

    it('rejects bad token requests with 400 and a code', async () => {
      for (const q of ['accountID=acct&access=admin', 'accountID=acct&ttl=0', 'accountID=acct&ttl=abc', 'accountID=acct&key=../x&access=read', 'accountID=']) {
        const res = await fetch(`${server.url}/token?${q}`, { headers: { 'X-Harness-Token': GLOBAL } });
        assert.equal(res.status, 400, q);
        assert.match(((await res.json()) as { code: string }).code, /^LOGSVC_INVALID_/);
      }
    });
  });
});
