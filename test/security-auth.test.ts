// Every route (the table in support/route-table.ts) × every kind of credential (docs/SECURITY.md):
// none, wrong, forged, expired, another account, the wrong scope, and the right one.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { startTestServer, type TestServer } from './support/in-process-server.ts';
import { unzip } from './support/unzip.ts';
import { ROUTES, openStream, putBlob, type Api, type RouteCase } from './support/route-table.ts';

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

/** An independent implementation of the signed-link signature (store/signed-links.ts, docs/SECURITY.md). */
function signedLinkQuery(method: string, accountID: string, key: string, expires: number): string {
  const sig = createHmac('sha256', Buffer.from(`signed-links\0${SECRET}`))
    .update(`${method}\n${accountID}\n${key}\n${expires}`)
    .digest('base64url');
  return new URLSearchParams({ method, accountID, key, expires: String(expires), sig }).toString();
}

const withQuery = (path: string, q: string) => `${path}${path.includes('?') ? '&' : '?'}${q}`;

/** Bugs found by this suite and fixed: these messages name what a regression would bring back. */
const REGRESSION = {
  queryTokenOnInfo: 'REGRESSION: ?token= accepted on GET /stream/info or GET /ci/streams (handler/stream-routes.ts routeStream)',
  slashAccount: 'REGRESSION: a signed token whose account is not a valid accountID (e.g. "acct/x") is accepted (handler/account-token.ts verifyAccountToken)',
  tokenNoStore: 'REGRESSION: GET /token without Cache-Control: no-store (handler/token-routes.ts)',
};

interface Answer {
  status: number;
  code?: string;
  body: string;
  headers: Headers;
}

describe('authentication and authorization on every route', function () {
  this.timeout(60000);
  let server: TestServer;
  let api: Api;
  before(async () => {
    server = await startTestServer({ LOG_SERVICE_GLOBAL_TOKEN: GLOBAL, LOG_SERVICE_SECRET: SECRET, LOG_SERVICE_PING_INTERVAL_SECONDS: '0.1' });
    api = {
      url: server.url,
      admin: (path, init = {}) =>
        fetch(`${server.url}${path}`, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), 'X-Harness-Token': GLOBAL } }),
    };
  });
  after(async () => server.destroy());

  async function send(route: RouteCase, headers: Record<string, string>, path = route.path): Promise<Answer> {
    const ac = new AbortController();
    const res = await fetch(`${server.url}${path}`, { method: route.method, headers: { ...route.headers, ...headers }, body: route.body, signal: ac.signal });
    let code: string | undefined;
    let body = '';
    const live = (res.headers.get('content-type') ?? '').startsWith('text/event-stream') || res.headers.has('x-log-offset');
    if (route.method !== 'HEAD' && !live) body = await res.text();
    if (res.status >= 400 && route.method !== 'HEAD') code = (JSON.parse(body) as { error_code: string }).error_code;
    ac.abort(); // tails would stay open
    return { status: res.status, code, body, headers: res.headers };
  }

  const tokens = {
    wrong: () => 'not-a-token',
    forged: () => harnessToken('another-secret', 'acct', now() + 3600),
    expired: () => harnessToken(SECRET, 'acct', now() - 10),
    otherAccount: () => harnessToken(SECRET, 'other', now() + 3600),
    account: () => harnessToken(SECRET, 'acct', now() + 3600),
  };
  async function mint(account: string, key: string | undefined, access: string | undefined): Promise<string> {
    const q = [`accountID=${account}`, key !== undefined ? `key=${key}` : '', access !== undefined ? `access=${access}` : ''].filter(Boolean).join('&');
    const res = await api.admin(`/token?${q}`);
    assert.equal(res.status, 200, `minting a token with ${q}`);
    return res.text();
  }
  const streamsOf = async (account: string) =>
    ((await (await api.admin(`/stream/info?accountID=${account}`)).json()) as { streams: Record<string, { size: number }> }).streams;
  /** What `account` holds at the route's key: its open streams (by size) and the blob. */
  async function snapshot(account: string, route: RouteCase): Promise<unknown> {
    const streams = Object.fromEntries(Object.entries(await streamsOf(account)).map(([k, v]) => [k, v.size]));
    const blob = await api.admin(`/blob?accountID=${account}&key=${route.key}`);
    return { streams, blob: `${blob.status} ${await blob.text()}` };
  }
  /** The account a valid token reaches on this route: CI routes map the global token to "default". */
  const accountFor = (route: RouteCase, token: string) => (route.ci && token === GLOBAL ? 'default' : 'acct');

  async function expectSuccess(route: RouteCase, token: string, how: string, viaQuery = false): Promise<void> {
    const account = accountFor(route, token);
    await route.prepare?.(api, account);
    const r = viaQuery ? await send(route, {}, withQuery(route.path, `token=${token}`)) : await send(route, { 'X-Harness-Token': token });
    assert.equal(r.status, route.ok, `${route.name} with ${how}: ${r.status} ${r.body.slice(0, 200)}`);
    if (route.info) {
      const keys = Object.keys((JSON.parse(r.body) as { streams: Record<string, unknown> }).streams);
      assert.ok(keys.includes(route.key!), `${how} sees ${route.key} in the info: ${keys.join(', ')}`);
    }
    if (route.id.startsWith('h-close-') && route.ok === 204) {
      const left = Object.keys(await streamsOf(account)).filter((k) => k.startsWith(`p/${route.id}/`));
      assert.deepEqual(left, [], 'the streams are closed');
    }
    if ((route.method === 'PUT' || route.method === 'POST') && route.path.includes('blob') && !route.path.includes('link') && route.body !== undefined) {
      const stored = await api.admin(`/blob?accountID=${account}&key=${route.key}`);
      assert.equal(await stored.text(), route.body, 'the upload landed in the account of the token');
    }
  }

  describe('routes opened by a token (read or write)', () => {
    for (const route of ROUTES.filter((r) => r.access === 'read' || r.access === 'write')) {
      describe(`${route.name} (${route.method} ${route.path.split('?')[0]}) [${route.access}]`, () => {
        it('answers 401 LOGSVC_UNAUTHORIZED without credentials', async () => {
          await route.prepare?.(api, 'acct');
          const r = await send(route, {});
          assert.deepEqual([r.status, r.code], [401, route.method === 'HEAD' ? undefined : 'LOGSVC_UNAUTHORIZED']);
        });

        it('answers 403 LOGSVC_FORBIDDEN to a wrong token and to a token signed with another secret', async () => {
          for (const headers of [
            { 'X-Harness-Token': tokens.wrong() },
            { Authorization: `Bearer ${tokens.forged()}` },
            { 'X-Harness-Token': tokens.forged() },
          ] as Record<string, string>[]) {
            const r = await send(route, headers);
            assert.equal(r.status, 403, JSON.stringify(headers));
            if (route.method !== 'HEAD') assert.equal(r.code, 'LOGSVC_FORBIDDEN');
          }
        });

        it('answers 403 LOGSVC_TOKEN_EXPIRED to an expired account token', async () => {
          const r = await send(route, { 'X-Harness-Token': tokens.expired() });
          assert.equal(r.status, 403);
          if (route.method !== 'HEAD') assert.equal(r.code, 'LOGSVC_TOKEN_EXPIRED');
          const scopedExpired = harnessToken(SECRET, 'acct', now() - 10, Buffer.from(`\0${route.access === 'read' ? 'r' : 'w'}${route.scope}`));
          const s = await send(route, { Authorization: `Bearer ${scopedExpired}` });
          assert.equal(s.status, 403, 'an expired scoped token');
          if (route.method !== 'HEAD') assert.equal(s.code, 'LOGSVC_TOKEN_EXPIRED');
        });

        if (!route.ci) {
          it("answers 403 LOGSVC_FORBIDDEN to another account's token (plain and scoped)", async () => {
            await route.prepare?.(api, 'acct');
            const scopedOther = await mint('other', route.scope, route.access);
            for (const token of [tokens.otherAccount(), scopedOther]) {
              const r = await send(route, { 'X-Harness-Token': token });
              assert.equal(r.status, 403);
              if (route.method !== 'HEAD') assert.equal(r.code, 'LOGSVC_FORBIDDEN');
            }
          });
        } else {
          it("keeps another account's token out of acct's data: acct is unchanged and the other account works in its own namespace", async () => {
            // acct has a live stream with a line and a blob at this route's key.
            await openStream(api, 'acct', route.key!, 'acct line\n');
            await putBlob(api, 'acct', route.key!, 'acct blob');
            await route.prepare?.(api, 'acct');
            const before = await snapshot('acct', route);
            const other = { 'X-Harness-Token': tokens.otherAccount() };
            const r = await send(route, other);
            assert.equal(r.status, route.otherStatus, `other account on ${route.path}: ${r.status} ${r.body.slice(0, 200)}`);
            if (r.status === 404 && route.method !== 'HEAD') assert.match(r.code!, /^LOGSVC_(STREAM|BLOB)_NOT_FOUND$/);
            if (route.info) {
              const seen = (JSON.parse(r.body) as { streams: Record<string, unknown> }).streams;
              assert.deepEqual(Object.keys(seen).sort(), Object.keys(await streamsOf('other')).sort(), 'the other account sees exactly its own streams');
              assert.ok(!(route.key! in seen), "and not acct's");
            }
            if (route.path.includes('/link/')) {
              const link = new URL((JSON.parse(r.body) as { link: string }).link);
              assert.equal(link.searchParams.get('accountID'), 'other', 'the link is for the caller account');
              if (route.path.endsWith('/download')) assert.equal((await fetch(link)).status, 404, "the other account's link finds nothing");
              else assert.equal((await fetch(link, { method: 'PUT', body: 'other via link' })).status, 204);
            }
            if (route.body !== undefined && route.path.endsWith('/blob')) {
              const own = await api.admin(`/blob?accountID=other&key=${route.key}`);
              assert.equal(await own.text(), route.body, "the upload landed in the other account's namespace");
            }
            // Naming acct explicitly changes nothing: the account comes from the token.
            const asking = await send(route, other, withQuery(route.path, 'accountID=acct'));
            assert.equal(
              asking.status,
              route.otherStatus,
              `?accountID=acct with another account's token: the account still comes from the token (${asking.body})`,
            );
            if (route.info && asking.status === 200) assert.ok(!(route.key! in (JSON.parse(asking.body) as { streams: object }).streams));
            assert.deepEqual(await snapshot('acct', route), before, "acct's streams and blob are unchanged");
          });
        }

        it('answers 403 LOGSVC_FORBIDDEN to a token scoped to the other access, and keeps a token for another prefix out', async () => {
          await route.prepare?.(api, 'acct');
          const wrongAccess = await mint('acct', route.scope, route.access === 'read' ? 'write' : 'read');
          const a = await send(route, { 'X-Harness-Token': wrongAccess });
          assert.equal(a.status, 403, 'token for the other access');
          if (route.method !== 'HEAD') assert.equal(a.code, 'LOGSVC_FORBIDDEN');
          const wrongKey = await mint('acct', 'p/other', route.access);
          const k = await send(route, { 'X-Harness-Token': wrongKey });
          if (route.info) {
            assert.equal(k.status, 200, 'info is filtered, not refused');
            assert.deepEqual(Object.keys((JSON.parse(k.body) as { streams: object }).streams), [], 'nothing outside the scope is listed');
          } else {
            assert.equal(k.status, 403, 'token for another prefix');
            if (route.method !== 'HEAD') assert.equal(k.code, 'LOGSVC_FORBIDDEN');
          }
        });

        it(`answers ${route.ok} to the global token, the account token and a matching scoped token`, async () => {
          await expectSuccess(route, GLOBAL, 'the global token');
          await expectSuccess(route, tokens.account(), 'the account token');
          await expectSuccess(route, await mint('acct', route.scope, route.access), `a ${route.access} token for ${route.scope}`);
        });

        if (route.queryToken) {
          it(`accepts ?token= (a ${route.method} tail or download: browsers cannot set headers)`, async () => {
            await expectSuccess(route, tokens.account(), '?token=', true);
          });
        } else {
          it('ignores ?token=: 401 without a header', async () => {
            await route.prepare?.(api, 'acct');
            const r = await send(route, {}, withQuery(route.path, `token=${tokens.account()}`));
            assert.equal(r.status, 401, route.info ? REGRESSION.queryTokenOnInfo : `${route.name} accepted ?token=`);
            assert.equal(r.code, 'LOGSVC_UNAUTHORIZED');
          });
        }
      });
    }
  });

  describe('routes for the global token only', () => {
    for (const route of ROUTES.filter((r) => r.access === 'admin')) {
      describe(`${route.name} (${route.method} ${route.path.split('?')[0]})`, () => {
        it('answers 401 LOGSVC_UNAUTHORIZED without credentials, also with ?token=', async () => {
          for (const path of [route.path, withQuery(route.path, `token=${GLOBAL}`)]) {
            const r = await send(route, {}, path);
            assert.deepEqual([r.status, r.code], [401, 'LOGSVC_UNAUTHORIZED'], path.replace(GLOBAL, '<global>'));
          }
        });
        it('answers 403 LOGSVC_FORBIDDEN to wrong and forged tokens, and 403 LOGSVC_TOKEN_EXPIRED to an expired one', async () => {
          for (const t of [tokens.wrong(), tokens.forged()]) assert.deepEqual(pick(await send(route, { 'X-Harness-Token': t })), [403, 'LOGSVC_FORBIDDEN']);
          assert.deepEqual(pick(await send(route, { Authorization: `Bearer ${tokens.expired()}` })), [403, 'LOGSVC_TOKEN_EXPIRED']);
        });
        it('answers 403 LOGSVC_FORBIDDEN to account tokens (own or other account) and to scoped tokens', async () => {
          const candidates = {
            account: tokens.account(),
            other: tokens.otherAccount(),
            read: await mint('acct', 'p', 'read'),
            write: await mint('acct', 'p', 'write'),
            'read, whole account': await mint('acct', undefined, 'read'),
          };
          for (const [what, t] of Object.entries(candidates)) {
            assert.deepEqual(pick(await send(route, { 'X-Harness-Token': t })), [403, 'LOGSVC_FORBIDDEN'], what);
            assert.deepEqual(pick(await send(route, { Authorization: `Bearer ${t}` })), [403, 'LOGSVC_FORBIDDEN'], `${what} (Bearer)`);
          }
        });
        it('answers 200 to the global token (header or Bearer)', async () => {
          for (const headers of [{ 'X-Harness-Token': GLOBAL }, { Authorization: `Bearer ${GLOBAL}` }] as Record<string, string>[]) {
            const r = await send(route, headers);
            assert.equal(r.status, 200);
            // Tokens and metrics are text; every account's streams are JSON, as GET /stream/info.
            assert.match(r.headers.get('content-type') ?? '', route.id === 'info-all' ? /^application\/json/ : /^text\/plain/);
            assert.ok(r.body.length > 0);
          }
        });
      });
    }
  });
  const pick = (a: Answer) => [a.status, a.code];

  describe('routes without credentials (health)', () => {
    for (const route of ROUTES.filter((r) => r.access === 'public')) {
      it(`${route.method} ${route.path} answers 200 with no token and with a bad one`, async () => {
        assert.equal((await send(route, {})).status, 200);
        assert.equal((await send(route, { 'X-Harness-Token': tokens.wrong() })).status, 200);
        assert.equal((await send(route, { 'X-Harness-Token': tokens.expired() })).status, 200);
      });
    }
  });

  describe('signed-link routes: the signature is the credential', () => {
    for (const route of ROUTES.filter((r) => r.access === 'link')) {
      describe(`${route.name} (${route.method} ${route.path})`, () => {
        it('answers 403 LOGSVC_LINK_INVALID without a signature, even with the global token', async () => {
          for (const headers of [{}, { 'X-Harness-Token': GLOBAL }] as Record<string, string>[]) {
            const r = await send(route, headers, `${route.path}?accountID=acct&key=p/${route.id}/s/t`);
            assert.equal(r.status, 403);
            if (route.method !== 'HEAD') assert.equal(r.code, 'LOGSVC_LINK_INVALID');
          }
        });
        it(`answers ${route.ok} to a link the service minted, and 403 LOGSVC_LINK_INVALID once any part is changed`, async () => {
          const link = await route.mintLink!(api);
          assert.equal((await send(route, {}, link)).status, route.ok);
          const q = new URLSearchParams(link.split('?')[1]);
          const tamper = (name: string, value: string) => {
            const t = new URLSearchParams(q);
            t.set(name, value);
            return `${route.path}?${t}`;
          };
          const changed = {
            // Its first character: all six of its bits are signature bits (the last one's low bits are
            // padding, so replacing the end with "AA" left the signature as it was about once in 1,000 links).
            sig: tamper('sig', `${q.get('sig')!.startsWith('A') ? 'B' : 'A'}${q.get('sig')!.slice(1)}`),
            accountID: tamper('accountID', 'other'),
            key: tamper('key', `${q.get('key')}x`),
            expires: tamper('expires', String(Number(q.get('expires')) + 3600)),
            method: tamper('method', route.linkMethod === 'PUT' ? 'GET' : 'PUT'),
          };
          for (const [what, path] of Object.entries(changed)) {
            const r = await send(route, {}, path);
            assert.equal(r.status, 403, `changed ${what}`);
            if (route.method !== 'HEAD') assert.equal(r.code, 'LOGSVC_LINK_INVALID', `changed ${what}`);
          }
        });
        it('answers 403 LOGSVC_LINK_EXPIRED to a correctly signed link past its expiry, and 403 to a link signed for another method', async () => {
          const k = route.linkMethod === 'ZIP' ? `p/${route.id}/` : `p/${route.id}/s/t`;
          await route.mintLink!(api); // what the link points to exists
          const valid = await send(route, {}, `${route.path}?${signedLinkQuery(route.linkMethod!, 'acct', k, now() + 600)}`);
          assert.equal(valid.status, route.ok, 'the independent signer agrees with the service');
          const late = await send(route, {}, `${route.path}?${signedLinkQuery(route.linkMethod!, 'acct', k, now() - 5)}`);
          assert.equal(late.status, 403);
          if (route.method !== 'HEAD') assert.equal(late.code, 'LOGSVC_LINK_EXPIRED');
          for (const other of (['GET', 'PUT', 'ZIP'] as const).filter((m) => m !== route.linkMethod)) {
            const r = await send(route, {}, `${route.path}?${signedLinkQuery(other, 'acct', k, now() + 600)}`);
            assert.equal(r.status, 403, `a ${other} link used for ${route.method} ${route.path}`);
            if (route.method !== 'HEAD') assert.equal(r.code, 'LOGSVC_LINK_INVALID');
          }
        });
      });
    }
  });

  describe('account names inside tokens', () => {
    it('refuses an account token whose account contains "/" and never lets it reach another account\'s keys', async () => {
      await putBlob(api, 'acct', 'x/p/b/s/t', 'acct secret blob');
      await openStream(api, 'acct', 'x/p/b/s/t', 'acct secret line\n');
      const slash = harnessToken(SECRET, 'acct/x', now() + 600);
      const h = { 'X-Harness-Token': slash };
      for (const [what, init, path] of [
        ['GET /ci/p/b/s/t/blob', {}, '/ci/p/b/s/t/blob'],
        ['GET /ci/streams', {}, '/ci/streams'],
        ['PUT /ci/p/b/s/t/blob', { method: 'PUT', body: 'overwritten' }, '/ci/p/b/s/t/blob'],
      ] as const) {
        const res = await fetch(`${server.url}${path}`, { ...init, headers: h });
        const body = await res.text();
        assert.equal(res.status, 403, `${REGRESSION.slashAccount}: ${what} with an "acct/x" token → ${res.status} ${body}`);
        assert.equal((JSON.parse(body) as { error_code: string }).error_code, 'LOGSVC_FORBIDDEN', what);
      }
      assert.equal(await (await api.admin('/blob?accountID=acct&key=x/p/b/s/t')).text(), 'acct secret blob', "acct's blob x/p/b/s/t is untouched");
    });

    it('refuses account tokens whose account is not a valid accountID (empty, NUL with a bad scope byte, a space, "%")', async () => {
      const accepted: string[] = [];
      for (const [what, token] of [
        ['empty account', harnessToken(SECRET, '', now() + 600)],
        ['NUL and an unknown access byte', harnessToken(SECRET, 'acct', now() + 600, Buffer.from('\0xp'))],
        ['a space', harnessToken(SECRET, 'ac ct', now() + 600)],
        ['"%"', harnessToken(SECRET, 'ac%ct', now() + 600)],
      ] as const) {
        const res = await fetch(`${server.url}/ci/p/b/s/t/blob`, { method: 'PUT', body: 'x', headers: { 'X-Harness-Token': token } });
        if (res.status !== 403 && res.status !== 400) accepted.push(`${what}: ${res.status}`);
      }
      assert.deepEqual(accepted, [], `${REGRESSION.slashAccount} (same cause: the token's account is never checked with validateAccount)`);
    });
  });

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
      for (const k of ['p/b/s/t', 'p/x/s/t'])
        await fetch(`${server.url}/stream?accountID=acct&key=${k}`, { method: 'POST', headers: { 'X-Harness-Token': GLOBAL } });
      const read = await (await fetch(`${server.url}/token?accountID=acct&key=p/b&access=read`, { headers: { 'X-Harness-Token': GLOBAL } })).text();
      const info = (await (await fetch(`${server.url}/stream/info?accountID=acct`, { headers: { 'X-Harness-Token': read } })).json()) as {
        streams: Record<string, unknown>;
      };
      assert.deepEqual(Object.keys(info.streams), ['p/b/s/t']);
    });

    it('accepts ?token= only on GET tails and downloads, not on writes', async () => {
      const account = tokens.account();
      await fetch(`${server.url}/blob?accountID=acct&key=q/1`, { method: 'PUT', body: 'q', headers: { 'X-Harness-Token': GLOBAL } });
      assert.equal((await fetch(`${server.url}/blob?accountID=acct&key=q/1&token=${account}`)).status, 200);
      assert.equal((await fetch(`${server.url}/blob?accountID=acct&key=q/2&token=${account}`, { method: 'PUT', body: 'x' })).status, 401);
      // An account token in ?token= on a CI tail: acct's own stream, as an EventSource would open it.
      await openStream(api, 'acct', 'qt/1/s/t', 'via query token\n');
      const ac = new AbortController();
      const tail = await fetch(`${server.url}/ci/qt/1/s/t/stream?token=${account}`, { signal: ac.signal });
      assert.equal(tail.status, 200, 'a GET tail takes ?token=');
      assert.match(tail.headers.get('content-type') ?? '', /^text\/event-stream/);
      ac.abort();
      assert.equal((await fetch(`${server.url}/ci/qt/1/s/t/stream?token=${account}`, { method: 'PUT', body: 'x\n' })).status, 401, 'a push does not');
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
      // A zip prefix is a folder: "sc/b" means "sc/b/", inside the scope, and holds nothing of "sc/bb/…".
      const narrow = await fetch(`${server.url}/blob/download?accountID=acct&prefix=sc/b`, { method: 'POST', headers: read });
      assert.equal(narrow.status, 200, `zip of "sc/b" with a read token for sc/b: ${narrow.status}`);
      const link = ((await narrow.json()) as { link: string }).link;
      const entries = [...(await unzip(Buffer.from(await (await fetch(link)).arrayBuffer()))).keys()];
      assert.deepEqual(entries, ['s/t'], 'only the blob inside the scope');
      assert.equal((await fetch(`${server.url}/stream?accountID=acct&key=sc/b/&prefix=true`, { method: 'DELETE', headers: write })).status, 204);
      const info = (await (await fetch(`${server.url}/stream/info?accountID=acct`, { headers: g })).json()) as { streams: Record<string, unknown> };
      assert.ok('sc/bb/victim/step' in info.streams, 'the stream outside the scope is still open');
      assert.ok(!('sc/b/s/t' in info.streams));
      const zip = await fetch(`${server.url}/blob/download?accountID=acct&prefix=sc/b/`, { method: 'POST', headers: read });
      assert.equal(zip.status, 200);
    });

    it('answers GET /token with Cache-Control: no-store (a token must not sit in a cache)', async () => {
      const res = await fetch(`${server.url}/token?accountID=acct`, { headers: { 'X-Harness-Token': GLOBAL } });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('cache-control') ?? '', /no-store/, REGRESSION.tokenNoStore);
    });

    it('rejects bad token requests with 400 and a code', async () => {
      for (const q of ['accountID=acct&access=admin', 'accountID=acct&ttl=0', 'accountID=acct&ttl=abc', 'accountID=acct&key=../x&access=read', 'accountID=']) {
        const res = await fetch(`${server.url}/token?${q}`, { headers: { 'X-Harness-Token': GLOBAL } });
        assert.equal(res.status, 400, q);
        assert.match(((await res.json()) as { error_code: string }).error_code, /^LOGSVC_INVALID_/);
      }
    });
  });
});
