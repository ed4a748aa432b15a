// One error body on every route, readable by Harness's Go client (docs/PROTOCOL.md §9.1):
// {"error_msg": "...", "error_code": "LOGSVC_…"}, no `code` field (the Go client decodes
// `code` as an int). Every route of the table (handler/routes.ts, through
// support/route-table.ts) is made to fail every way it can — no credentials, another
// account or scope, a bad key, a missing stream or blob, an over-limit body, a failing
// backend — and every error answer is decoded as the Go client decodes it
// (support/error-body.ts). Then the requests only the dispatcher or node:http answer.
import assert from 'node:assert/strict';
import net from 'node:net';
import { ServiceError } from '../foundation/errors.ts';
import type { RouteFamily } from '../handler/route-call.ts';
import { assertErrorBody, goDecodeError } from './support/error-body.ts';
import { startTestServer, type TestServer } from './support/in-process-server.ts';
import { declaredRoute, ROUTES, type Api, type RouteCase } from './support/route-table.ts';

const GLOBAL = 'error-body-global-token';
const LIMIT = 1024;

type Family = RouteFamily | 'dispatcher' | 'node:http';

/** One request and what it must answer: an exact status, or any error (undefined). */
interface Failure {
  how: string;
  route: RouteCase;
  path: string;
  token?: string;
  body?: string;
  headers?: Record<string, string>;
  status?: number;
}

function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    socket.on('data', (c: Buffer) => {
      data += c.toString();
    });
    socket.on('close', () => resolve(data));
    socket.on('error', () => resolve(data));
    setTimeout(() => socket.destroy(), 5000).unref();
  });
}

describe("the error body on every route, as Harness's Go client decodes it", function () {
  this.timeout(60_000);
  let server: TestServer;
  let api: Api;
  /** Statuses whose error bodies were checked, per route family. */
  const checked = new Map<Family, Set<number>>();
  const tokens: Record<'otherAccount' | 'elsewhere', string> = { otherAccount: '', elsewhere: '' };

  before(async () => {
    server = await startTestServer({
      LOG_SERVICE_GLOBAL_TOKEN: GLOBAL,
      LOG_SERVICE_SECRET: 'error-body-secret',
      LOG_SERVICE_MAX_PUSH_BYTES: String(LIMIT),
      LOG_SERVICE_MAX_BLOB_BYTES: String(LIMIT),
    });
    api = {
      url: server.url,
      admin: (path, init = {}) =>
        fetch(`${server.url}${path}`, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), 'X-Harness-Token': GLOBAL } }),
    };
    const mint = async (query: string) => {
      const res = await api.admin(`/token?${query}`);
      assert.equal(res.status, 200, `minting a token with ${query}`);
      return res.text();
    };
    tokens.otherAccount = await mint('accountID=other');
    tokens.elsewhere = await mint('accountID=acct&key=elsewhere/&access=write');
  });
  after(async () => server.destroy());

  function record(family: Family, status: number): void {
    if (!checked.has(family)) checked.set(family, new Set());
    checked.get(family)!.add(status);
  }

  async function expectError(f: Failure): Promise<void> {
    const family = declaredRoute(f.route.pattern)!.family;
    const label = `${f.route.name} (${f.route.method} ${f.path}), ${f.how}`;
    const headers: Record<string, string> = { ...f.route.headers, ...f.headers };
    if (f.token !== undefined) headers['X-Harness-Token'] = f.token;
    const ac = new AbortController();
    const res = await fetch(`${server.url}${f.path}`, { method: f.route.method, headers, body: f.body ?? f.route.body, signal: ac.signal });
    const text = f.route.method === 'HEAD' || res.status < 400 ? '' : await res.text();
    ac.abort(); // a tail that did not fail would stay open
    if (f.status !== undefined) assert.equal(res.status, f.status, `${label}: ${text.slice(0, 200)}`);
    else assert.ok(res.status >= 400, `${label}: ${res.status}`);
    if (f.route.method === 'HEAD') return; // no body
    assert.match(res.headers.get('content-type') ?? '', /^application\/json; charset=utf-8$/, label);
    assertErrorBody(text, label);
    record(family, res.status);
  }

  /** The same request with one part made invalid: the key, the CI id, or the accountID. */
  function badKeyPath(route: RouteCase): string | undefined {
    if (route.path.includes('key=')) return route.path.replace(/key=[^&]*/, 'key=p/../t');
    if (route.path.startsWith('/ci/p/')) return route.path.replace('/ci/p/', '/ci/p%20q/');
    if (route.path.includes('accountID=')) return route.path.replace(/accountID=[^&]*/, 'accountID=a%2Fb');
    return undefined;
  }

  it('answers no credentials (401), another account or scope (403) and a bad key (400) on every route with the error body', async () => {
    for (const route of ROUTES) {
      if (route.access === 'public' || route.access === 'link') continue;
      await expectError({ how: 'no token', route, path: route.path, status: 401 });
      if (route.access === 'admin') {
        await expectError({ how: 'an account token', route, path: route.path, token: tokens.otherAccount, status: 403 });
      } else if (!route.info) {
        // Harness routes name the account: another account's token is refused. CI routes take the
        // account from the token, so a token of the right account scoped elsewhere is what is refused.
        await expectError({
          how: route.ci ? 'a token scoped elsewhere' : "another account's token",
          route,
          path: route.path,
          token: route.ci ? tokens.elsewhere : tokens.otherAccount,
          status: 403,
        });
      }
      const bad = badKeyPath(route);
      if (bad !== undefined) await expectError({ how: 'a bad key, id or account', route, path: bad, token: GLOBAL, status: 400 });
    }
    assert.ok(checked.get('harness')?.has(401) && checked.get('ci')?.has(401) && checked.get('service')?.has(401));
  });

  it('answers a missing stream or blob with 404 and the error body', async () => {
    // Every route that needs something to exist, without it.
    const missing = ROUTES.filter((r) => r.prepare !== undefined && !r.info && !r.id.includes('close-prefix') && !r.id.includes('close-list'));
    assert.ok(missing.length >= 15, 'the route table has its routes that read or change something');
    for (const route of missing) {
      const path = route.path.replace(/p\/([a-z-]+)\//g, 'p/$1-missing/');
      // Not errors: exists answers {"exists": false}, a Harness tail of nothing ends at once (docs/PROTOCOL.md
      // §6.10), deleting what is not there succeeds, and a download link is signed for any key.
      const fine = { 'h-exists': 200, 'h-tail': 200, 'h-delete-blob': 204, 'ci-delete-blob': 204, 'ci-link-download': 200 }[route.id];
      if (fine !== undefined) {
        const res = await api.admin(path, { method: route.method });
        assert.equal(res.status, fine, route.name);
        await res.body?.cancel();
        continue;
      }
      await expectError({ how: 'nothing there', route, path, token: GLOBAL, status: 404 });
    }
  });

  it('answers signed-link routes without a valid signature (403), and a missing blob behind a valid one (404), with the error body', async () => {
    for (const route of ROUTES.filter((r) => r.access === 'link')) {
      await expectError({ how: 'no signature', route, path: route.path });
      const link = await route.mintLink!(api);
      const tampered = link.replace(/sig=([^&]{4})/, 'sig=AAAA');
      assert.notEqual(tampered, link);
      await expectError({ how: 'a changed signature', route, path: tampered, status: 403 });
      if (route.linkMethod === 'GET') {
        await api.admin(`/blob?accountID=acct&key=p/${route.id}/s/t`, { method: 'DELETE' });
        await expectError({ how: 'the blob deleted', route, path: link, status: 404 });
      }
    }
    assert.ok(checked.get('link')?.has(403));
  });

  it('answers an over-limit push or upload (413), an unknown media type (415) and an unsatisfiable range (416) with the error body', async () => {
    const big = 'x'.repeat(2 * LIMIT);
    for (const route of ROUTES) {
      if (route.method !== 'PUT' && route.method !== 'POST') continue;
      const push = route.id.endsWith('-push');
      const upload = route.body === 'blob' || route.body === 'via link';
      if (!push && !upload) continue;
      await route.prepare?.(api, route.ci ? 'default' : 'acct');
      const path = route.access === 'link' ? await route.mintLink!(api) : route.path;
      const headers = push ? { 'Content-Type': 'text/plain' } : undefined;
      await expectError({ how: `a body of ${big.length} bytes`, route, path, token: GLOBAL, body: big, headers, status: 413 });
      if (push)
        await expectError({ how: 'Content-Type image/png', route, path, token: GLOBAL, body: 'x', headers: { 'Content-Type': 'image/png' }, status: 415 });
    }
    for (const route of ROUTES.filter((r) => r.id.endsWith('download-range'))) {
      await route.prepare!(api, route.ci ? 'default' : 'acct');
      await expectError({ how: 'a range past the end', route, path: route.path, token: GLOBAL, headers: { Range: 'bytes=5000-6000' }, status: 416 });
    }
    for (const family of ['harness', 'ci'] as const) for (const status of [413, 415, 416]) assert.ok(checked.get(family)?.has(status), `${family} ${status}`);
    assert.ok(checked.get('link')?.has(413), 'link 413');
  });

  it('answers a failing backend (503) and an unexpected error (500) with the error body, readiness included', async () => {
    const { stream, store } = server.services.context;
    const routes = ROUTES.filter((r) => ['h-open', 'ci-open', 'h-download', 'ci-download', 'l-get'].includes(r.id));
    const paths = new Map<RouteCase, string>();
    for (const route of routes) paths.set(route, route.access === 'link' ? await route.mintLink!(api) : route.path);
    const failures: [string, () => Promise<never>, number][] = [
      ['a backend unavailable', () => Promise.reject(new ServiceError('LOGSVC_BACKEND_UNAVAILABLE', 'redis unavailable: test')), 503],
      ['an unexpected error', () => Promise.reject(new Error('a bug')), 500],
    ];
    for (const [how, fail, status] of failures) {
      // Own properties shadow the backends' methods until deleted.
      Object.assign(stream, { open: fail });
      Object.assign(store, { get: fail, head: fail, ping: fail });
      try {
        for (const route of routes) await expectError({ how, route, path: paths.get(route)!, token: GLOBAL, status });
        if (status === 503) {
          const ready = ROUTES.find((r) => r.id === 'ready')!;
          await expectError({ how: 'the store does not answer', route: ready, path: ready.path, status: 503 });
          const body = (await (await fetch(`${server.url}/ready/healthz`)).json()) as { checks?: unknown[] };
          assert.ok(Array.isArray(body.checks), 'readiness keeps its checks next to the error fields');
        }
      } finally {
        for (const name of ['open']) Reflect.deleteProperty(stream, name);
        for (const name of ['get', 'head', 'ping']) Reflect.deleteProperty(store, name);
      }
    }
    for (const family of ['harness', 'ci', 'link'] as const) for (const s of [500, 503]) assert.ok(checked.get(family)?.has(s), `${family} ${s}`);
    assert.ok(checked.get('service')?.has(503), 'readiness');
    assert.equal((await fetch(`${server.url}/ready/healthz`)).status, 200, 'the backends answer again');
  });

  it('answers what the dispatcher refuses (404 no route, 405 method) and what node:http cannot parse (400, 431) with the error body', async () => {
    const noRoute = await fetch(`${server.url}/nope`);
    assert.equal(noRoute.status, 404);
    assert.equal(assertErrorBody(await noRoute.text(), 'GET /nope'), 'LOGSVC_NOT_FOUND');
    record('dispatcher', 404);
    const method = await fetch(`${server.url}/stream/info?accountID=acct`, { method: 'PATCH', headers: { 'X-Harness-Token': GLOBAL } });
    assert.equal(method.status, 405);
    assert.equal(assertErrorBody(await method.text(), 'PATCH /stream/info'), 'LOGSVC_METHOD_NOT_ALLOWED');
    record('dispatcher', 405);

    const raw: [string, string, number, string][] = [
      ['not HTTP', 'HELLO THERE\r\n\r\n', 400, 'LOGSVC_BAD_REQUEST'],
      ['a bad header line', 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nno colon here\r\n\r\n', 400, 'LOGSVC_BAD_REQUEST'],
      ['oversized headers', `GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'LOGSVC_HEADERS_TOO_LARGE'],
    ];
    for (const [how, request, status, code] of raw) {
      const reply = await rawExchange(server.port, request);
      const [head = '', body = ''] = reply.split('\r\n\r\n', 2);
      assert.match(head, new RegExp(`^HTTP/1\\.1 ${status} `), `${how}: ${reply.slice(0, 200)}`);
      assert.match(head, /\r\ncontent-type: application\/json; charset=utf-8\r\n/i, how);
      assert.equal(assertErrorBody(body, how), code);
      record('node:http', status);
    }
  });

  it('covered every route family with its error statuses', () => {
    const want: Record<Family, number[]> = {
      harness: [400, 401, 403, 404, 413, 415, 416, 500, 503],
      ci: [400, 401, 403, 404, 413, 415, 416, 500, 503],
      link: [403, 404, 413, 500, 503],
      service: [400, 401, 403, 503],
      dispatcher: [404, 405],
      'node:http': [400, 431],
    };
    for (const [family, statuses] of Object.entries(want) as [Family, number[]][]) {
      const seen = [...(checked.get(family) ?? [])].sort();
      for (const status of statuses) assert.ok(seen.includes(status), `${family}: no ${status} checked (checked: ${seen.join(', ')})`);
    }
  });
});

describe('the Go decode the error-body check stands for', () => {
  it("fails on a string code, as Harness's client did on the old body, and reads the new one", () => {
    assert.equal(goDecodeError('{"error_msg":"no","code":"LOGSVC_FORBIDDEN"}').ok, false);
    assert.equal(goDecodeError('{"error_msg":"no","Code":"LOGSVC_FORBIDDEN"}').ok, false, 'encoding/json matches keys without regard to case');
    assert.deepEqual(goDecodeError('{"error_msg":"no","error_code":"LOGSVC_FORBIDDEN"}'), { ok: true, code: 0, message: 'no' });
    assert.deepEqual(goDecodeError('{"error_msg":"no","code":403}'), { ok: true, code: 403, message: 'no' });
    assert.equal(goDecodeError('{"error_msg":"no","code":4.5}').ok, false);
    assert.equal(goDecodeError('{"error_msg":7}').ok, false);
    assert.equal(goDecodeError('[]').ok, false);
  });

  it('refuses a body with any `code` field, and one without error_code', () => {
    assert.throws(() => assertErrorBody('{"error_msg":"no","error_code":"LOGSVC_FORBIDDEN","code":403}', 't'), /`code` field/);
    assert.throws(() => assertErrorBody('{"error_msg":"no","code":"LOGSVC_FORBIDDEN"}', 't'), /error_code is not a string/);
    assert.throws(() => assertErrorBody('{"error_msg":"","error_code":"LOGSVC_FORBIDDEN"}', 't'), /empty error_msg/);
    assert.equal(assertErrorBody('{"error_msg":"no","error_code":"LOGSVC_FORBIDDEN"}', 't'), 'LOGSVC_FORBIDDEN');
  });
});
