// The route table the security tests share (security-auth: the auth matrix;
// security-limits: CORS preflights; fuzz: paths). security-routes.test.ts
// checks that it has a case for every route of handler/routes.ts.
import assert from 'node:assert/strict';
import type { RouteSpec } from '../../handler/route-call.ts';
import { ROUTES as DECLARED } from '../../handler/routes.ts';

/** Requests made with the global token, to set up and inspect state. */
export interface Api {
  url: string;
  admin(path: string, init?: RequestInit): Promise<Response>;
}

type RouteAccess = 'read' | 'write' | 'admin' | 'public' | 'link';

export interface RouteCase {
  /** Unique; also names the keys the route touches (p/<id>/s/t), so routes never share state. */
  id: string;
  name: string;
  method: string;
  /** The route as the handler registers it, e.g. "GET /ci/:project/:build/:stage/:step/blob". */
  pattern: string;
  access: RouteAccess;
  /** CI routes take the account from the token (the global token: ?accountID= or "default"). */
  ci: boolean;
  /** The request for account `acct` (Harness routes name it; CI routes get it from the token). */
  path: string;
  body?: string;
  headers?: Record<string, string>;
  /** The key whose stream/blob the route reads or changes. */
  key?: string;
  /** The prefix a scoped token must cover: p/<id>. */
  scope?: string;
  /** Account-wide listings (info): other scopes see a filtered list rather than a 403. */
  info?: boolean;
  /** README: "GET tails and GET/HEAD downloads also accept ?token=". */
  queryToken: boolean;
  /** The success status with a valid credential (after prepare). */
  ok: number;
  /** What success needs, created with the global token in `account`. */
  prepare?(api: Api, account: string): Promise<void>;
  /** CI routes: what an account token for `other` gets in its own (empty) namespace. */
  otherStatus?: number;
  /** Signed-link routes: mints a valid link to this route, as a path with query. */
  mintLink?(api: Api): Promise<string>;
  linkMethod?: 'GET' | 'PUT' | 'ZIP';
}

export const STEP = '/ci/:project/:build/:stage/:step';
const key = (id: string) => `p/${id}/s/t`;
const hq = (path: string, id: string, extra = '') => `${path}?accountID=acct&key=${key(id)}${extra}`;
const ci = (id: string, suffix: string) => `/ci/p/${id}/s/t/${suffix}`;

export async function openStream(api: Api, account: string, k: string, text?: string): Promise<void> {
  const q = `accountID=${account}&key=${encodeURIComponent(k)}`;
  assert.equal((await api.admin(`/stream?${q}`, { method: 'POST' })).status, 204, `open ${account}/${k}`);
  if (text !== undefined) {
    const pushed = await api.admin(`/stream?${q}`, { method: 'PUT', body: text, headers: { 'Content-Type': 'text/plain' } });
    assert.equal(pushed.status, 204, `push ${account}/${k}`);
  }
}

export async function putBlob(api: Api, account: string, k: string, content = `blob of ${account}/${k}`): Promise<void> {
  const res = await api.admin(`/blob?accountID=${account}&key=${encodeURIComponent(k)}`, { method: 'PUT', body: content });
  assert.equal(res.status, 204, `put ${account}/${k}`);
}

async function linkFrom(api: Api, path: string): Promise<string> {
  const res = await api.admin(path, { method: 'POST' });
  assert.equal(res.status, 200, `minting a link with ${path}`);
  const link = new URL(((await res.json()) as { link: string }).link);
  return `${link.pathname}${link.search}`;
}

const JSON_LINE = { body: '[{"out":"x\\n"}]', headers: { 'Content-Type': 'application/json' } };

/**
 * A case for one declared route. Its access, family and ?token= rule are
 * written here again on purpose and must match the declaration: changing what
 * a route needs is then a change to the security matrix too, never a silent one.
 */
function route(r: Omit<RouteCase, 'key' | 'scope' | 'queryToken'> & Partial<Pick<RouteCase, 'key' | 'scope' | 'queryToken'>>): RouteCase {
  const tokenRoute = r.access === 'read' || r.access === 'write';
  const c: RouteCase = { key: tokenRoute ? key(r.id) : undefined, scope: tokenRoute ? `p/${r.id}` : undefined, queryToken: false, ...r };
  const declared = declaredRoute(c.pattern);
  assert.ok(declared, `${c.pattern} (case ${c.id}) is not a route of handler/routes.ts`);
  assert.equal(c.access, declared.access, `${c.pattern}: the case says access ${c.access}, the route table ${declared.access}`);
  assert.equal(c.ci, declared.family === 'ci', `${c.pattern}: CI addressing differs from the route table`);
  assert.equal(c.queryToken, declared.queryToken, `${c.pattern}: ?token= acceptance differs from the route table`);
  return c;
}

export const ROUTES: RouteCase[] = [
  // Harness stream routes (stream-routes.ts, bare node:http)
  route({ id: 'h-open', name: 'open stream', method: 'POST', pattern: 'POST /stream', access: 'write', ci: false, path: hq('/stream', 'h-open'), ok: 204 }),
  route({
    id: 'h-push',
    name: 'push',
    method: 'PUT',
    pattern: 'PUT /stream',
    access: 'write',
    ci: false,
    path: hq('/stream', 'h-push'),
    ...JSON_LINE,
    ok: 204,
    prepare: (api, a) => openStream(api, a, key('h-push')),
  }),
  route({
    id: 'h-tail',
    name: 'tail',
    method: 'GET',
    pattern: 'GET /stream',
    access: 'read',
    ci: false,
    path: hq('/stream', 'h-tail'),
    ok: 200,
    queryToken: true,
    prepare: (api, a) => openStream(api, a, key('h-tail'), 'line\n'),
  }),
  route({
    id: 'h-close',
    name: 'close stream',
    method: 'DELETE',
    pattern: 'DELETE /stream',
    access: 'write',
    ci: false,
    path: hq('/stream', 'h-close'),
    ok: 204,
    prepare: (api, a) => openStream(api, a, key('h-close')),
  }),
  route({
    id: 'h-close-prefix',
    name: 'close streams by prefix',
    method: 'DELETE',
    pattern: 'DELETE /stream',
    access: 'write',
    ci: false,
    path: '/stream?accountID=acct&key=p/h-close-prefix/&prefix=true',
    ok: 204,
    prepare: async (api, a) => {
      await openStream(api, a, 'p/h-close-prefix/s/a');
      await openStream(api, a, 'p/h-close-prefix/s/b');
    },
  }),
  route({
    id: 'h-close-list',
    name: 'close streams by keyList',
    method: 'DELETE',
    pattern: 'DELETE /stream',
    access: 'write',
    ci: false,
    path: '/stream?accountID=acct&keyList=p/h-close-list/s/a,p/h-close-list/s/b',
    ok: 204,
    prepare: async (api, a) => {
      await openStream(api, a, 'p/h-close-list/s/a');
      await openStream(api, a, 'p/h-close-list/s/b');
    },
  }),
  route({
    id: 'h-info',
    name: 'stream info',
    method: 'GET',
    pattern: 'GET /stream/info',
    access: 'read',
    ci: false,
    info: true,
    path: '/stream/info?accountID=acct',
    ok: 200,
    prepare: (api, a) => openStream(api, a, key('h-info')),
  }),
  route({
    id: 'h-raw',
    name: 'raw tail',
    method: 'GET',
    pattern: 'GET /stream/raw',
    access: 'read',
    ci: false,
    path: hq('/stream/raw', 'h-raw'),
    ok: 200,
    queryToken: true,
    prepare: (api, a) => openStream(api, a, key('h-raw'), 'line\n'),
  }),
  route({
    id: 'h-raw-head',
    name: 'raw text length',
    method: 'HEAD',
    pattern: 'HEAD /stream/raw',
    access: 'read',
    ci: false,
    path: hq('/stream/raw', 'h-raw-head'),
    ok: 200,
    queryToken: true,
    prepare: (api, a) => openStream(api, a, key('h-raw-head'), 'line\n'),
  }),
  route({
    id: 'h-raw-patch',
    name: 'raw append at an offset',
    method: 'PATCH',
    pattern: 'PATCH /stream/raw',
    access: 'write',
    ci: false,
    path: hq('/stream/raw', 'h-raw-patch'),
    body: 'line\n',
    headers: { 'Content-Range': 'bytes 0-4/*' },
    ok: 202,
    prepare: (api, a) => openStream(api, a, key('h-raw-patch')),
  }),
  route({
    id: 'h-raw-put',
    name: 'raw append as it arrives',
    method: 'PUT',
    pattern: 'PUT /stream/raw',
    access: 'write',
    ci: false,
    path: hq('/stream/raw', 'h-raw-put'),
    body: 'line\n',
    ok: 202,
    prepare: (api, a) => openStream(api, a, key('h-raw-put')),
  }),
  // Harness blob routes (blob-routes.ts)
  route({
    id: 'h-upload-post',
    name: 'upload blob (POST)',
    method: 'POST',
    pattern: 'POST /blob',
    access: 'write',
    ci: false,
    path: hq('/blob', 'h-upload-post'),
    body: 'blob',
    ok: 204,
  }),
  route({
    id: 'h-upload-put',
    name: 'upload blob (PUT)',
    method: 'PUT',
    pattern: 'PUT /blob',
    access: 'write',
    ci: false,
    path: hq('/blob', 'h-upload-put'),
    body: 'blob',
    ok: 204,
  }),
  route({
    id: 'h-download',
    name: 'download blob',
    method: 'GET',
    pattern: 'GET /blob',
    access: 'read',
    ci: false,
    path: hq('/blob', 'h-download'),
    ok: 200,
    queryToken: true,
    prepare: (api, a) => putBlob(api, a, key('h-download')),
  }),
  route({
    id: 'h-download-range',
    name: 'download blob (Range)',
    method: 'GET',
    pattern: 'GET /blob',
    access: 'read',
    ci: false,
    path: hq('/blob', 'h-download-range'),
    headers: { Range: 'bytes=0-1' },
    ok: 206,
    queryToken: true,
    prepare: (api, a) => putBlob(api, a, key('h-download-range')),
  }),
  route({
    id: 'h-head',
    name: 'head blob',
    method: 'HEAD',
    pattern: 'HEAD /blob',
    access: 'read',
    ci: false,
    path: hq('/blob', 'h-head'),
    ok: 200,
    queryToken: true,
    prepare: (api, a) => putBlob(api, a, key('h-head')),
  }),
  route({
    id: 'h-exists',
    name: 'blob exists',
    method: 'GET',
    pattern: 'GET /blob/exists',
    access: 'read',
    ci: false,
    path: hq('/blob/exists', 'h-exists'),
    ok: 200,
    prepare: (api, a) => putBlob(api, a, key('h-exists')),
  }),
  route({
    id: 'h-delete-blob',
    name: 'delete blob',
    method: 'DELETE',
    pattern: 'DELETE /blob',
    access: 'write',
    ci: false,
    path: hq('/blob', 'h-delete-blob'),
    ok: 204,
    prepare: (api, a) => putBlob(api, a, key('h-delete-blob')),
  }),
  route({
    id: 'h-link-upload',
    name: 'upload link',
    method: 'POST',
    pattern: 'POST /blob/link/upload',
    access: 'write',
    ci: false,
    path: hq('/blob/link/upload', 'h-link-upload'),
    ok: 200,
  }),
  route({
    id: 'h-link-download',
    name: 'download link',
    method: 'POST',
    pattern: 'POST /blob/link/download',
    access: 'read',
    ci: false,
    path: hq('/blob/link/download', 'h-link-download'),
    ok: 200,
  }),
  // zip-routes.ts
  route({
    id: 'h-zip',
    name: 'zip link (POST /blob/download)',
    method: 'POST',
    pattern: 'POST /blob/download',
    access: 'read',
    ci: false,
    path: '/blob/download?accountID=acct&prefix=p/h-zip/',
    ok: 200,
    prepare: (api, a) => putBlob(api, a, key('h-zip')),
  }),
  // CI stream routes
  route({
    id: 'ci-open',
    name: 'CI open',
    method: 'POST',
    pattern: `POST ${STEP}/stream`,
    access: 'write',
    ci: true,
    path: ci('ci-open', 'stream'),
    ok: 204,
    otherStatus: 204,
  }),
  route({
    id: 'ci-push',
    name: 'CI push',
    method: 'PUT',
    pattern: `PUT ${STEP}/stream`,
    access: 'write',
    ci: true,
    path: ci('ci-push', 'stream'),
    ...JSON_LINE,
    ok: 204,
    otherStatus: 404,
    prepare: (api, a) => openStream(api, a, key('ci-push')),
  }),
  route({
    id: 'ci-tail',
    name: 'CI tail',
    method: 'GET',
    pattern: `GET ${STEP}/stream`,
    access: 'read',
    ci: true,
    path: ci('ci-tail', 'stream'),
    ok: 200,
    otherStatus: 404,
    queryToken: true,
    prepare: (api, a) => openStream(api, a, key('ci-tail'), 'line\n'),
  }),
  route({
    id: 'ci-close',
    name: 'CI close',
    method: 'DELETE',
    pattern: `DELETE ${STEP}/stream`,
    access: 'write',
    ci: true,
    path: ci('ci-close', 'stream'),
    ok: 204,
    otherStatus: 404,
    prepare: (api, a) => openStream(api, a, key('ci-close')),
  }),
  route({
    id: 'ci-info',
    name: 'CI info',
    method: 'GET',
    pattern: 'GET /ci/streams',
    access: 'read',
    ci: true,
    info: true,
    path: '/ci/streams',
    ok: 200,
    otherStatus: 200,
    prepare: (api, a) => openStream(api, a, key('ci-info')),
  }),
  route({
    id: 'ci-raw',
    name: 'CI raw tail',
    method: 'GET',
    pattern: `GET ${STEP}/raw`,
    access: 'read',
    ci: true,
    path: ci('ci-raw', 'raw'),
    ok: 200,
    otherStatus: 404,
    queryToken: true,
    prepare: (api, a) => openStream(api, a, key('ci-raw'), 'line\n'),
  }),
  route({
    id: 'ci-raw-head',
    name: 'CI raw text length',
    method: 'HEAD',
    pattern: `HEAD ${STEP}/raw`,
    access: 'read',
    ci: true,
    path: ci('ci-raw-head', 'raw'),
    ok: 200,
    otherStatus: 404,
    queryToken: true,
    prepare: (api, a) => openStream(api, a, key('ci-raw-head'), 'line\n'),
  }),
  route({
    id: 'ci-raw-patch',
    name: 'CI raw append at an offset',
    method: 'PATCH',
    pattern: `PATCH ${STEP}/raw`,
    access: 'write',
    ci: true,
    path: ci('ci-raw-patch', 'raw'),
    body: 'line\n',
    headers: { 'Content-Range': 'bytes 0-4/*' },
    ok: 202,
    otherStatus: 404,
    prepare: (api, a) => openStream(api, a, key('ci-raw-patch')),
  }),
  route({
    id: 'ci-raw-put',
    name: 'CI raw append as it arrives',
    method: 'PUT',
    pattern: `PUT ${STEP}/raw`,
    access: 'write',
    ci: true,
    path: ci('ci-raw-put', 'raw'),
    body: 'line\n',
    ok: 202,
    otherStatus: 404,
    prepare: (api, a) => openStream(api, a, key('ci-raw-put')),
  }),
  // CI blob routes
  route({
    id: 'ci-upload-put',
    name: 'CI upload (PUT)',
    method: 'PUT',
    pattern: `PUT ${STEP}/blob`,
    access: 'write',
    ci: true,
    path: ci('ci-upload-put', 'blob'),
    body: 'blob',
    ok: 204,
    otherStatus: 204,
  }),
  route({
    id: 'ci-upload-post',
    name: 'CI upload (POST)',
    method: 'POST',
    pattern: `POST ${STEP}/blob`,
    access: 'write',
    ci: true,
    path: ci('ci-upload-post', 'blob'),
    body: 'blob',
    ok: 204,
    otherStatus: 204,
  }),
  route({
    id: 'ci-download',
    name: 'CI download',
    method: 'GET',
    pattern: `GET ${STEP}/blob`,
    access: 'read',
    ci: true,
    path: ci('ci-download', 'blob'),
    ok: 200,
    otherStatus: 404,
    queryToken: true,
    prepare: (api, a) => putBlob(api, a, key('ci-download')),
  }),
  route({
    id: 'ci-download-range',
    name: 'CI download (Range)',
    method: 'GET',
    pattern: `GET ${STEP}/blob`,
    access: 'read',
    ci: true,
    path: ci('ci-download-range', 'blob'),
    headers: { Range: 'bytes=1-2' },
    ok: 206,
    otherStatus: 404,
    queryToken: true,
    prepare: (api, a) => putBlob(api, a, key('ci-download-range')),
  }),
  route({
    id: 'ci-head',
    name: 'CI head',
    method: 'HEAD',
    pattern: `HEAD ${STEP}/blob`,
    access: 'read',
    ci: true,
    path: ci('ci-head', 'blob'),
    ok: 200,
    otherStatus: 404,
    queryToken: true,
    prepare: (api, a) => putBlob(api, a, key('ci-head')),
  }),
  route({
    id: 'ci-delete-blob',
    name: 'CI delete blob',
    method: 'DELETE',
    pattern: `DELETE ${STEP}/blob`,
    access: 'write',
    ci: true,
    path: ci('ci-delete-blob', 'blob'),
    ok: 204,
    otherStatus: 204,
    prepare: (api, a) => putBlob(api, a, key('ci-delete-blob')),
  }),
  route({
    id: 'ci-link-upload',
    name: 'CI upload link',
    method: 'POST',
    pattern: `POST ${STEP}/blob/link/upload`,
    access: 'write',
    ci: true,
    path: ci('ci-link-upload', 'blob/link/upload'),
    ok: 200,
    otherStatus: 200,
  }),
  route({
    id: 'ci-link-download',
    name: 'CI download link',
    method: 'POST',
    pattern: `POST ${STEP}/blob/link/download`,
    access: 'read',
    ci: true,
    path: ci('ci-link-download', 'blob/link/download'),
    ok: 200,
    otherStatus: 200,
    prepare: (api, a) => putBlob(api, a, key('ci-link-download')),
  }),
  route({
    id: 'ci-zip',
    name: 'CI logs.zip',
    method: 'GET',
    pattern: 'GET /ci/:project/:build/logs.zip',
    access: 'read',
    ci: true,
    path: '/ci/p/ci-zip/logs.zip',
    ok: 200,
    otherStatus: 404,
    queryToken: true,
    prepare: (api, a) => putBlob(api, a, key('ci-zip')),
  }),
  // token-routes.ts, metrics.ts: the global token only
  route({ id: 'token', name: 'mint token', method: 'GET', pattern: 'GET /token', access: 'admin', ci: false, path: '/token?accountID=acct', ok: 200 }),
  route({
    id: 'info-all',
    name: "every account's streams (Harness Info)",
    method: 'GET',
    pattern: 'GET /info/stream',
    access: 'admin',
    ci: false,
    path: '/info/stream',
    ok: 200,
  }),
  route({ id: 'metrics', name: 'metrics', method: 'GET', pattern: 'GET /metrics', access: 'admin', ci: false, path: '/metrics', ok: 200 }),
  // health-routes.ts: no credentials
  route({ id: 'healthz', name: 'liveness', method: 'GET', pattern: 'GET /healthz', access: 'public', ci: false, path: '/healthz', ok: 200 }),
  route({ id: 'ready', name: 'readiness', method: 'GET', pattern: 'GET /ready/healthz', access: 'public', ci: false, path: '/ready/healthz', ok: 200 }),
  // Signed links: the signature is the credential
  route({
    id: 'l-get',
    name: 'signed download link',
    method: 'GET',
    pattern: 'GET /links/blob',
    access: 'link',
    ci: false,
    path: '/links/blob',
    ok: 200,
    linkMethod: 'GET',
    mintLink: async (api) => {
      await putBlob(api, 'acct', 'p/l-get/s/t');
      return linkFrom(api, '/blob/link/download?accountID=acct&key=p/l-get/s/t');
    },
  }),
  route({
    id: 'l-head',
    name: 'signed download link (HEAD)',
    method: 'HEAD',
    pattern: 'HEAD /links/blob',
    access: 'link',
    ci: false,
    path: '/links/blob',
    ok: 200,
    linkMethod: 'GET',
    mintLink: async (api) => {
      await putBlob(api, 'acct', 'p/l-head/s/t');
      return linkFrom(api, '/blob/link/download?accountID=acct&key=p/l-head/s/t');
    },
  }),
  route({
    id: 'l-put',
    name: 'signed upload link (PUT)',
    method: 'PUT',
    pattern: 'PUT /links/blob',
    access: 'link',
    ci: false,
    path: '/links/blob',
    body: 'via link',
    ok: 204,
    linkMethod: 'PUT',
    mintLink: (api) => linkFrom(api, '/blob/link/upload?accountID=acct&key=p/l-put/s/t'),
  }),
  route({
    id: 'l-post',
    name: 'signed upload link (POST)',
    method: 'POST',
    pattern: 'POST /links/blob',
    access: 'link',
    ci: false,
    path: '/links/blob',
    body: 'via link',
    ok: 204,
    linkMethod: 'PUT',
    mintLink: (api) => linkFrom(api, '/blob/link/upload?accountID=acct&key=p/l-post/s/t'),
  }),
  route({
    id: 'l-zip',
    name: 'signed zip link',
    method: 'GET',
    pattern: 'GET /links/zip',
    access: 'link',
    ci: false,
    path: '/links/zip',
    ok: 200,
    linkMethod: 'ZIP',
    mintLink: async (api) => {
      await putBlob(api, 'acct', 'p/l-zip/s/t');
      return linkFrom(api, '/blob/download?accountID=acct&prefix=p/l-zip/');
    },
  }),
];

/** The route the service declares for a case's pattern ("GET /ci/:project/…"). */
export function declaredRoute(pattern: string): RouteSpec | undefined {
  return DECLARED.find((r) => `${r.method} ${r.path}` === pattern);
}
