// Property-based fuzzing of every route with fast-check: thousands of
// malformed requests, with credentials of every kind (the global token, valid,
// expired, scoped, forged and random account tokens, tokens whose account holds
// a NUL or a slash; in a header, as Bearer or as ?token=) and signed-link
// queries (random, and validly signed over hostile values). Whatever arrives, the server never answers 5xx, never
// crashes, answers every 4xx with the JSON error body (error_msg, error_code: a
// LOGSVC_* code, no `code`: support/error-body.ts), and its memory stays bounded.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import fc from 'fast-check';
import { ROUTES as DECLARED } from '../handler/routes.ts';
import { assertErrorBody } from './support/error-body.ts';
import { startServer, type ServerProcess } from './support/server-process.ts';
import { rssMb } from './support/process-memory.ts';

const TOKEN = 'fuzz-global-token';
const SECRET = 'fuzz-secret';
const RUNS = 2500;

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

interface FuzzResponse {
  status: number;
  contentType: string;
  body: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

function send(port: number, r: FuzzRequest): Promise<FuzzResponse> {
  return new Promise((resolve, reject) => {
    if (process.env.FUZZ_TRACE) process.stderr.write(`${r.method} ${r.path} ${JSON.stringify(r.headers)} ${r.body?.length}\n`);
    // Explicit framing: node's client sends an OPTIONS/DELETE body without any,
    // which is a broken request on a keep-alive socket, not a server fault.
    const headers = r.body === undefined ? r.headers : { ...r.headers, 'Content-Length': String(r.body.length) };
    const req = http.request({ host: '127.0.0.1', port, method: r.method, path: r.path, headers, agent }, (res) => {
      const type = String(res.headers['content-type'] ?? '');
      if (type.startsWith('text/event-stream') || res.headers['x-log-offset'] !== undefined) {
        // A live tail (SSE or raw text): the headers are the answer; do not wait for the end.
        req.destroy();
        resolve({ status: res.statusCode ?? 0, contentType: type, body: '' });
        return;
      }
      const parts: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < 65536) {
          parts.push(c);
          size += c.length;
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: type, body: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(10000, () => req.destroy(new Error(`no answer within 10 s to ${r.method} ${r.path}`)));
    req.on('error', (err: Error & { rawPacket?: Buffer }) => {
      if (process.env.FUZZ_TRACE) process.stderr.write(`ERROR ${err.message} ${JSON.stringify(err.rawPacket?.toString())}\n`);
      reject(err);
    });
    req.end(r.body);
  });
}

const id = fc.oneof(
  fc.constantFrom('p', 'build-1', '42', 'a.b:c_d-e', '..', '.', '%2e%2e', '%00', '%zz', '', 'x'.repeat(200)),
  fc.string({ maxLength: 20 }).map(encodeURIComponent),
  fc.string({ unit: 'grapheme', maxLength: 10 }).map(encodeURIComponent),
);
const queryValue = fc.oneof(
  fc.constantFrom('acct', 'p/b/s/t', 'a/../b', '/abs', 'a//b', '-1', '0', '99999999999999999999', 'true', 'abc', '%zz', '%00', ''),
  fc.string({ maxLength: 30 }).map(encodeURIComponent),
  fc.string({ unit: 'grapheme', maxLength: 15 }).map(encodeURIComponent),
);
const queryString = fc
  .dictionary(
    fc.constantFrom(
      'accountID',
      'key',
      'from',
      'tail',
      'snapshot',
      'prefix',
      'keyList',
      'token',
      'ttl',
      'access',
      'timeout_seconds',
      'method',
      'expires',
      'sig',
      'offset',
    ),
    queryValue,
    { maxKeys: 6 },
  )
  .map((q) =>
    Object.entries(q)
      .map(([k, v]) => `${k}=${v}`)
      .join('&'),
  );

// Queries and paths that name real accounts and keys, so valid credentials reach the handlers.
const plausibleQuery = fc
  .record(
    {
      accountID: fc.constantFrom('acct', 'other', 'default', 'acct/x'),
      key: fc.constantFrom('p/b/s/t', 'p/b', 'p/b/', 'p/bb/s/t', 'q/1', 'p/b/s/t/', '../p'),
      prefix: fc.constantFrom('p/b', 'p/b/', 'p/', 'p', '~zip/', ''),
      keyList: fc.constantFrom('p/b/s/t', 'p/b/s/t,q/1', 'p/b/s/t,,x', ''),
      offset: fc.oneof(fc.integer({ min: -200, max: 200 }).map(String), fc.constantFrom('', 'x', '1e3')),
      extra: queryString,
    },
    { requiredKeys: ['accountID', 'extra'] },
  )
  .map(({ extra, ...q }) => {
    const own = Object.entries(q)
      .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
      .join('&');
    return extra === '' ? own : `${own}&${extra}`;
  });
const plausibleId = fc.constantFrom('p', 'b', 's', 't', 'build-1', 'bb');

// Credentials, so that signature checking and the routes behind it are exercised.
const nowSeconds = () => Math.floor(Date.now() / 1000);
/** The Harness account-token format, independently: base64url-with-padding(exp || account || sig). */
function accountToken(accountID: string, expiresAt: number, extra = '', secret = SECRET): string {
  const exp = Buffer.alloc(4);
  exp.writeUInt32BE(expiresAt >>> 0);
  const msg = Buffer.concat([exp, Buffer.from(accountID), Buffer.from(extra, 'latin1')]);
  const inner = createHmac('sha256', secret).update(msg).digest();
  return Buffer.concat([msg, createHmac('sha256', inner).update(msg).digest()])
    .toString('base64')
    .replace(/\+/g, '-')
    .replace(/\//g, '_');
}
const scopePrefix = fc.oneof(fc.constantFrom('', 'p', 'p/b', 'p/b/', 'p/bb', '../x', '/', 'a//b'), fc.string({ maxLength: 20 }));
const oddAccount = fc.oneof(
  fc.constantFrom('acct/x', 'acct/', '/acct', 'a/b/c', 'ac\0ct', '\0', 'acct\0', '../acct', 'x'.repeat(300)),
  fc.tuple(fc.string({ maxLength: 8 }), fc.constantFrom('/', '\0'), fc.string({ maxLength: 8 })).map(([a, sep, b]) => `${a}${sep}${b}`),
);
const token = fc.oneof(
  fc.constant(TOKEN),
  fc.constantFrom('acct', 'other', 'default').map((a) => accountToken(a, nowSeconds() + 3600)),
  fc.integer({ min: 1, max: 1e6 }).map((ago) => accountToken('acct', nowSeconds() - ago)),
  fc.tuple(fc.constantFrom('r', 'w', 'x', ''), scopePrefix).map(([a, p]) => accountToken('acct', nowSeconds() + 3600, `\0${a}${p}`)),
  fc.tuple(oddAccount, fc.constantFrom('', '\0r', '\0wp/b')).map(([a, scope]) => accountToken(a, nowSeconds() + 3600, scope)),
  fc.constant(null).map(() => accountToken('acct', nowSeconds() + 3600, '', 'another-secret')),
  fc.tuple(fc.uint8Array({ maxLength: 200 }), fc.constantFrom('', '=', '==', '===')).map(([b, pad]) => Buffer.from(b).toString('base64url') + pad),
  fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.string({ maxLength: 10 })).map(([exp, a]) => accountToken(a, exp)),
);
const credentials = fc.oneof(
  fc.constant({ where: 'none' as const, token: '' }),
  fc.record({ where: fc.constantFrom('x-harness-token' as const, 'bearer' as const, 'query' as const), token }),
);

/** An independent signer for links to this service (store/signed-links.ts). */
function linkSig(method: string, accountID: string, key: string, expires: number): string {
  return createHmac('sha256', Buffer.from(`signed-links\0${SECRET}`))
    .update(`${method}\n${accountID}\n${key}\n${expires}`)
    .digest('base64url');
}
const linkQuery = fc
  .record({
    method: fc.oneof(fc.constantFrom('GET', 'PUT', 'ZIP', 'get', 'POST', ''), fc.string({ maxLength: 5 })),
    accountID: fc.oneof(fc.constantFrom('acct', 'other', '', 'a/b', 'acct/x'), fc.string({ maxLength: 12 })),
    key: fc.oneof(fc.constantFrom('p/b/s/t', 'p/b/', 'p/b', 'p/', '../x', '/abs', 'a//b', '', 'p/b/s/t/', '~zip/x'), fc.string({ maxLength: 20 })),
    expires: fc.oneof(
      fc.integer({ min: -3600, max: 3600 }).map((d) => String(nowSeconds() + d)),
      fc.constantFrom('', 'abc', '1e3', '-1', '0x10', '99999999999999999999', ' 5'),
    ),
    signed: fc.boolean(),
    sig: fc.oneof(
      fc.uint8Array({ maxLength: 48 }).map((b) => Buffer.from(b).toString('base64url')),
      fc.string({ maxLength: 50 }),
    ),
  })
  .map(({ method, accountID, key, expires, signed, sig }) => {
    const q = new URLSearchParams({ method, accountID, key, expires, sig: signed ? linkSig(method, accountID, key, Number(expires)) : sig });
    return q.toString();
  });
// Every declared route (handler/routes.ts), its parameters filled in, and near misses.
const DECLARED_PATHS = [
  ...new Set(DECLARED.map((r) => r.path.replace(/:[a-z]+/g, (p) => (p === ':project' ? 'p' : p === ':build' ? 'b' : p === ':stage' ? 's' : 't')))),
];
const CI_SUFFIXES = [
  ...new Set(DECLARED.filter((r) => r.path.startsWith('/ci/:project/:build/:stage/:step/')).map((r) => r.path.split('/').slice(6).join('/'))),
];
const path = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(...DECLARED_PATHS, '/', '/ci', '/ci/', '//stream', '/stream/', '/%', '/blob%00', '/links/', '/ci/p/b/s/t/raw/', '/metrics/'),
  },
  fc.tuple(id, id, id, id, fc.constantFrom(...CI_SUFFIXES, 'other')).map(([a, b, c, d, e]) => `/ci/${a}/${b}/${c}/${d}/${e}`),
  {
    weight: 2,
    arbitrary: fc
      .tuple(plausibleId, plausibleId, plausibleId, plausibleId, fc.constantFrom(...CI_SUFFIXES))
      .map(([a, b, c, d, e]) => `/ci/${a}/${b}/${c}/${d}/${e}`),
  },
  fc.tuple(fc.oneof(id, plausibleId), fc.oneof(id, plausibleId)).map(([a, b]) => `/ci/${a}/${b}/logs.zip`),
  fc.array(id, { maxLength: 8 }).map((segments) => `/${segments.join('/')}`),
);
const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 });
const headers = fc.record(
  {
    'X-Harness-Token': printable,
    Range: fc.oneof(
      fc.constantFrom('bytes=0-10', 'bytes=-5', 'bytes=5-', 'bytes=10-1', 'bytes=-0', 'bytes=0-1,3-4', 'bytes=999999999-', 'bytes=abc'),
      printable,
    ),
    'Last-Event-ID': fc.oneof(fc.constantFrom('0', '-1', '5', '99999999999999999', 'x'), printable),
    'Content-Type': fc.constantFrom(
      'application/json',
      'application/x-ndjson',
      'text/plain',
      'application/octet-stream',
      'text/xml',
      'multipart/form-data',
      '',
    ),
    'If-None-Match': printable,
  },
  { requiredKeys: [] },
);
const line = fc.record(
  {
    out: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
    level: fc.oneof(fc.constant('info'), fc.string({ maxLength: 40 }), fc.integer()),
    pos: fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.string({ maxLength: 3 })),
    time: fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      fc.string({ maxLength: 10 }),
    ),
    args: fc.oneof(fc.object({ maxDepth: 2 }), fc.array(fc.nat(), { maxLength: 3 })),
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.array(line, { maxLength: 20 }).map((lines) => Buffer.from(JSON.stringify(lines))),
  fc.array(line, { maxLength: 20 }).map((lines) => Buffer.from(lines.map((l) => JSON.stringify(l)).join('\n'))),
  fc.json({ maxDepth: 3 }).map((j) => Buffer.from(j)),
  fc.uint8Array({ maxLength: 4096 }).map((b) => Buffer.from(b)),
  fc.string({ maxLength: 2000 }).map((s) => Buffer.from(s)),
);
const request = fc
  .record({
    method: fc.oneof(
      { weight: 4, arbitrary: fc.constant('GET') },
      { weight: 3, arbitrary: fc.constantFrom('POST', 'PUT') },
      { weight: 2, arbitrary: fc.constantFrom('DELETE', 'HEAD') },
      { weight: 1, arbitrary: fc.constantFrom('PATCH', 'OPTIONS') },
    ),
    path: fc.oneof({ weight: 4, arbitrary: path }, { weight: 1, arbitrary: fc.constantFrom('/links/blob', '/links/zip', '/links/blob/', '/links/other') }),
    query: fc.oneof({ weight: 2, arbitrary: queryString }, { weight: 3, arbitrary: plausibleQuery }, { weight: 1, arbitrary: linkQuery }),
    credentials,
    headers,
    body,
  })
  .map(({ method, path: p, query, credentials: c, headers: h, body: b }): FuzzRequest => {
    const hs: Record<string, string> = { ...h };
    let q = query;
    if (c.where === 'x-harness-token') hs['X-Harness-Token'] = c.token;
    else if (c.where === 'bearer') hs.Authorization = `Bearer ${c.token}`;
    else if (c.where === 'query') q = q === '' ? `token=${encodeURIComponent(c.token)}` : `${q}&token=${encodeURIComponent(c.token)}`;
    return { method, path: q === '' ? p : `${p}?${q}`, headers: hs, body: method === 'GET' || method === 'HEAD' ? undefined : b };
  });

describe('fuzzing every route with malformed requests', function () {
  this.timeout(240000);
  let server: ServerProcess;
  before(async () => {
    // A short tail lifetime bounds a raw tail of an empty open stream, which sends
    // no headers until it has a byte or its lifetime ends (see security-limits).
    server = await startServer({
      LOG_SERVICE_GLOBAL_TOKEN: TOKEN,
      LOG_SERVICE_SECRET: SECRET,
      LOG_SERVICE_PING_INTERVAL_SECONDS: '1',
      LOG_SERVICE_TAIL_MAX_SECONDS: '2',
    });
    // Something to find: open streams with a line, and blobs, at keys the generators produce, in the accounts the tokens open.
    const auth = { 'X-Harness-Token': TOKEN };
    for (const account of ['acct', 'default']) {
      await fetch(`${server.url}/stream?accountID=${account}&key=p/b/s/t`, { method: 'POST', headers: auth });
      await fetch(`${server.url}/stream?accountID=${account}&key=p/b/s/t`, {
        method: 'PUT',
        body: 'a line\n',
        headers: { ...auth, 'Content-Type': 'text/plain' },
      });
      await fetch(`${server.url}/blob?accountID=${account}&key=p/b/s/t`, { method: 'PUT', body: 'x'.repeat(100), headers: auth });
    }
  });
  after(async () => {
    agent.destroy();
    await server.stop();
  });

  it(`answers ${RUNS} random requests with no 5xx, the JSON error body on every 4xx, and bounded memory`, async () => {
    const pid = server.process.pid!;
    const before = rssMb(pid);
    let count = 0;
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const res = await send(server.port, r);
        count++;
        const outcome = res.status < 400 ? `${Math.floor(res.status / 100)}xx` : (/"error_code":"(LOGSVC_[A-Z_]+)"/.exec(res.body)?.[1] ?? String(res.status));
        seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
        if (process.env.FUZZ_TRACE) process.stderr.write(`  → ${outcome}\n`);
        assert.ok(res.status < 500, `${r.method} ${r.path} → ${res.status} ${res.body}`);
        if (res.status >= 400 && r.method !== 'HEAD') {
          assert.match(res.contentType, /^application\/json/, `${r.method} ${r.path} → ${res.status} without JSON`);
          assertErrorBody(res.body, `${r.method} ${r.path} → ${res.status}`);
        }
      }),
      { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 100000), verbose: 1 },
    );
    assert.equal(count, RUNS);
    if (process.env.FUZZ_STATS) process.stderr.write(`${JSON.stringify(Object.fromEntries(seen))}\n`);
    // The credentials reached every kind of check, and got past them often enough to fuzz what is behind.
    for (const code of ['LOGSVC_UNAUTHORIZED', 'LOGSVC_FORBIDDEN', 'LOGSVC_TOKEN_EXPIRED', 'LOGSVC_LINK_INVALID']) {
      assert.ok((seen.get(code) ?? 0) > 0, `no ${code} in ${RUNS} requests: ${JSON.stringify(Object.fromEntries(seen))}`);
    }
    assert.ok((seen.get('2xx') ?? 0) > RUNS / 50, `too few successful requests: ${JSON.stringify(Object.fromEntries(seen))}`);
    assert.equal(server.process.exitCode, null, 'the server is still running');
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200);
    const grown = rssMb(pid) - before;
    assert.ok(grown < 150, `server RSS grew by ${grown.toFixed(1)} MB over ${RUNS} requests`);
  });
});
