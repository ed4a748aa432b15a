// Property-based fuzzing of every route with fast-check: thousands of
// malformed requests. Whatever arrives, the server never answers 5xx, never
// crashes, answers every 4xx with a JSON error carrying a LOGSVC_* code, and
// its memory stays bounded.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import fc from 'fast-check';
import { startServer, type ServerProcess } from './support/server-process.ts';

const TOKEN = 'fuzz-global-token';
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
      if (type.startsWith('text/event-stream')) {
        // A live tail: the headers are the answer; do not wait for the end.
        req.destroy();
        resolve({ status: res.statusCode ?? 0, contentType: type, body: '' });
        return;
      }
      const parts: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => { if (size < 65536) { parts.push(c); size += c.length; } });
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
const queryString = fc.dictionary(
  fc.constantFrom('accountID', 'key', 'from', 'tail', 'snapshot', 'prefix', 'keyList', 'token', 'ttl', 'access', 'timeout_seconds', 'method', 'expires', 'sig'),
  queryValue, { maxKeys: 6 },
).map((q) => Object.entries(q).map(([k, v]) => `${k}=${v}`).join('&'));
const path = fc.oneof(
  fc.constantFrom('/stream', '/stream/info', '/blob', '/blob/exists', '/blob/link/upload', '/blob/link/download', '/token',
    '/healthz', '/ready/healthz', '/ci/streams', '/links/blob', '/', '/ci', '/ci/', '//stream', '/stream/', '/%', '/blob%00'),
  fc.tuple(id, id, id, id, fc.constantFrom('stream', 'blob', 'blob/link/upload', 'blob/link/download', 'other'))
    .map(([a, b, c, d, e]) => `/ci/${a}/${b}/${c}/${d}/${e}`),
  fc.array(id, { maxLength: 8 }).map((segments) => `/${segments.join('/')}`),
);
const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 });
const headers = fc.record({
  'X-Harness-Token': fc.oneof(fc.constant(TOKEN), printable),
  Range: fc.oneof(fc.constantFrom('bytes=0-10', 'bytes=-5', 'bytes=5-', 'bytes=10-1', 'bytes=-0', 'bytes=0-1,3-4', 'bytes=999999999-', 'bytes=abc'), printable),
  'Last-Event-ID': fc.oneof(fc.constantFrom('0', '-1', '5', '99999999999999999', 'x'), printable),
  'Content-Type': fc.constantFrom('application/json', 'application/x-ndjson', 'text/plain', 'application/octet-stream', 'text/xml', 'multipart/form-data', ''),
  'If-None-Match': printable,
}, { requiredKeys: [] });
const line = fc.record({
  out: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
  level: fc.oneof(fc.constant('info'), fc.string({ maxLength: 40 }), fc.integer()),
  pos: fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.string({ maxLength: 3 })),
  time: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.string({ maxLength: 10 })),
  args: fc.oneof(fc.object({ maxDepth: 2 }), fc.array(fc.nat(), { maxLength: 3 })),
}, { requiredKeys: [] });
const body = fc.oneof(
  fc.constant(undefined),
  fc.array(line, { maxLength: 20 }).map((lines) => Buffer.from(JSON.stringify(lines))),
  fc.array(line, { maxLength: 20 }).map((lines) => Buffer.from(lines.map((l) => JSON.stringify(l)).join('\n'))),
  fc.json({ maxDepth: 3 }).map((j) => Buffer.from(j)),
  fc.uint8Array({ maxLength: 4096 }).map((b) => Buffer.from(b)),
  fc.string({ maxLength: 2000 }).map((s) => Buffer.from(s)),
);
const request = fc.record({
  method: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
  path,
  query: queryString,
  headers,
  body,
}).map(({ method, path: p, query, headers: h, body: b }): FuzzRequest => ({
  method, path: query === '' ? p : `${p}?${query}`, headers: h, body: method === 'GET' || method === 'HEAD' ? undefined : b,
}));

function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
}

describe('fuzzing every route with malformed requests', function () {
  this.timeout(240000);
  let server: ServerProcess;
  before(async () => {
    server = await startServer({ LOG_SERVICE_GLOBAL_TOKEN: TOKEN, LOG_SERVICE_SECRET: 'fuzz-secret', LOG_SERVICE_PING_INTERVAL_SECONDS: '1' });
    // Something to find: an open stream and a blob at a key the generators produce.
    const auth = { 'X-Harness-Token': TOKEN };
    await fetch(`${server.url}/stream?accountID=acct&key=p/b/s/t`, { method: 'POST', headers: auth });
    await fetch(`${server.url}/blob?accountID=acct&key=p/b/s/t`, { method: 'PUT', body: 'x'.repeat(100), headers: auth });
  });
  after(async () => {
    agent.destroy();
    await server.stop();
  });

  it(`answers ${RUNS} random requests with no 5xx, a JSON code on every 4xx, and bounded memory`, async () => {
    const pid = server.process.pid!;
    const before = rssMb(pid);
    let count = 0;
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const res = await send(server.port, r);
        count++;
        assert.ok(res.status < 500, `${r.method} ${r.path} → ${res.status} ${res.body}`);
        if (res.status >= 400 && r.method !== 'HEAD') {
          assert.match(res.contentType, /^application\/json/, `${r.method} ${r.path} → ${res.status} without JSON`);
          const parsed = JSON.parse(res.body) as { code?: string; error_msg?: string };
          assert.match(parsed.code ?? '', /^LOGSVC_[A-Z_]+$/, `${r.method} ${r.path} → ${res.body}`);
          assert.ok((parsed.error_msg ?? '').length > 0);
        }
      }),
      { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 100000), verbose: 1 },
    );
    assert.equal(count, RUNS);
    assert.equal(server.process.exitCode, null, 'the server is still running');
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200);
    const grown = rssMb(pid) - before;
    assert.ok(grown < 150, `server RSS grew by ${grown.toFixed(1)} MB over ${RUNS} requests`);
  });
});
