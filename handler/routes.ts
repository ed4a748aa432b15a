// Every route of the service, in one table (docs/ARCHITECTURE.md, "Routes";
// docs/API.md for what each does). One resolver (route-resolver.ts) turns a
// declaration into who may call it and what it addresses; one dispatcher
// (request-listener.ts) serves them all. To add a route, add a line here:
// the security matrix (test/support/route-table.ts) fails until it has a case
// for it.
import { blobExists, blobLink, deleteBlob, downloadBlob, uploadBlob } from './blob-handlers.ts';
import { patchRaw, putRaw } from './raw-append.ts';
import { rawTail } from './raw-tail.ts';
import type { RouteCall, RouteSpec } from './route-call.ts';
import { liveness, metrics, mintToken, readiness } from './service-handlers.ts';
import { sseTail } from './sse-tail.ts';
import { pushLines } from './push-handler.ts';
import { allStreamInfo, closeHarness, closeOne, openStream, streamInfo } from './stream-handlers.ts';
import { ciZip, signedZip, zipLink } from './zip-handlers.ts';

const STEP = '/ci/:project/:build/:stage/:step';

type Declared = Omit<RouteSpec, 'queryToken' | 'target'> & Partial<Pick<RouteSpec, 'queryToken' | 'target'>>;

/** Defaults: the route addresses one key, and takes its token from headers only. */
const route = (r: Declared): RouteSpec => ({ queryToken: false, target: 'key', ...r });

const upload = (c: RouteCall) => uploadBlob(c.ctx, c.account, c.key, c.req, c.res);
const download = (c: RouteCall) => downloadBlob(c.ctx, c.account, c.key, c.req, c.res);

export const ROUTES: readonly RouteSpec[] = [
  // Streams, Harness addressing (?accountID=&key=)
  route({ method: 'POST', path: '/stream', family: 'harness', access: 'write', summary: 'open a stream', handle: openStream }),
  route({ method: 'PUT', path: '/stream', family: 'harness', access: 'write', summary: 'push lines', handle: pushLines }),
  route({ method: 'GET', path: '/stream', family: 'harness', access: 'read', queryToken: true, summary: 'tail (SSE)', handle: (c) => sseTail(c, 'harness') }),
  route({
    method: 'DELETE',
    path: '/stream',
    family: 'harness',
    access: 'write',
    target: 'account',
    summary: 'close a stream, a prefix or a key list',
    handle: closeHarness,
  }),
  route({
    method: 'GET',
    path: '/stream/info',
    family: 'harness',
    access: 'read',
    target: 'account',
    summary: 'open streams of an account',
    handle: streamInfo,
  }),
  route({ method: 'GET', path: '/stream/raw', family: 'harness', access: 'read', queryToken: true, summary: 'raw text by byte offset', handle: rawTail }),
  route({ method: 'HEAD', path: '/stream/raw', family: 'harness', access: 'read', queryToken: true, summary: "the raw text's length", handle: rawTail }),
  route({ method: 'PATCH', path: '/stream/raw', family: 'harness', access: 'write', summary: 'append text at a byte offset', handle: patchRaw }),
  route({ method: 'PUT', path: '/stream/raw', family: 'harness', access: 'write', summary: 'append text as it arrives', handle: putRaw }),

  // Streams, CI addressing (/ci/:project/:build/:stage/:step)
  route({ method: 'POST', path: `${STEP}/stream`, family: 'ci', access: 'write', summary: 'open a stream', handle: openStream }),
  route({ method: 'PUT', path: `${STEP}/stream`, family: 'ci', access: 'write', summary: 'push lines', handle: pushLines }),
  route({ method: 'GET', path: `${STEP}/stream`, family: 'ci', access: 'read', queryToken: true, summary: 'tail (SSE)', handle: (c) => sseTail(c, 'ci') }),
  route({ method: 'DELETE', path: `${STEP}/stream`, family: 'ci', access: 'write', summary: 'close a stream', handle: closeOne }),
  route({ method: 'GET', path: '/ci/streams', family: 'ci', access: 'read', target: 'account', summary: 'open streams of an account', handle: streamInfo }),
  route({ method: 'GET', path: `${STEP}/raw`, family: 'ci', access: 'read', queryToken: true, summary: 'raw text by byte offset', handle: rawTail }),
  route({ method: 'HEAD', path: `${STEP}/raw`, family: 'ci', access: 'read', queryToken: true, summary: "the raw text's length", handle: rawTail }),
  route({ method: 'PATCH', path: `${STEP}/raw`, family: 'ci', access: 'write', summary: 'append text at a byte offset', handle: patchRaw }),
  route({ method: 'PUT', path: `${STEP}/raw`, family: 'ci', access: 'write', summary: 'append text as it arrives', handle: putRaw }),

  // Blobs, Harness addressing
  route({ method: 'POST', path: '/blob', family: 'harness', access: 'write', summary: 'upload a blob', handle: upload }),
  route({ method: 'PUT', path: '/blob', family: 'harness', access: 'write', summary: 'upload a blob', handle: upload }),
  route({ method: 'GET', path: '/blob', family: 'harness', access: 'read', queryToken: true, summary: 'download a blob', handle: download }),
  route({ method: 'HEAD', path: '/blob', family: 'harness', access: 'read', queryToken: true, summary: 'blob size and validators', handle: download }),
  route({
    method: 'DELETE',
    path: '/blob',
    family: 'harness',
    access: 'write',
    summary: 'delete a blob',
    handle: (c) => deleteBlob(c.ctx, c.account, c.key, c.res),
  }),
  route({
    method: 'GET',
    path: '/blob/exists',
    family: 'harness',
    access: 'read',
    summary: 'whether a blob exists',
    handle: (c) => blobExists(c.ctx, c.account, c.key, c.res),
  }),
  route({
    method: 'POST',
    path: '/blob/link/upload',
    family: 'harness',
    access: 'write',
    summary: 'a presigned upload link',
    handle: (c) => blobLink(c, 'PUT'),
  }),
  route({
    method: 'POST',
    path: '/blob/link/download',
    family: 'harness',
    access: 'read',
    summary: 'a presigned download link',
    handle: (c) => blobLink(c, 'GET'),
  }),
  route({
    method: 'POST',
    path: '/blob/download',
    family: 'harness',
    access: 'read',
    target: 'account',
    summary: 'a link to the zip of a prefix',
    handle: zipLink,
  }),

  // Blobs, CI addressing
  route({ method: 'PUT', path: `${STEP}/blob`, family: 'ci', access: 'write', summary: 'upload a blob', handle: upload }),
  route({ method: 'POST', path: `${STEP}/blob`, family: 'ci', access: 'write', summary: 'upload a blob', handle: upload }),
  route({ method: 'GET', path: `${STEP}/blob`, family: 'ci', access: 'read', queryToken: true, summary: 'download a blob', handle: download }),
  route({ method: 'HEAD', path: `${STEP}/blob`, family: 'ci', access: 'read', queryToken: true, summary: 'blob size and validators', handle: download }),
  route({
    method: 'DELETE',
    path: `${STEP}/blob`,
    family: 'ci',
    access: 'write',
    summary: 'delete a blob',
    handle: (c) => deleteBlob(c.ctx, c.account, c.key, c.res),
  }),
  route({
    method: 'POST',
    path: `${STEP}/blob/link/upload`,
    family: 'ci',
    access: 'write',
    summary: 'a presigned upload link',
    handle: (c) => blobLink(c, 'PUT'),
  }),
  route({
    method: 'POST',
    path: `${STEP}/blob/link/download`,
    family: 'ci',
    access: 'read',
    summary: 'a presigned download link',
    handle: (c) => blobLink(c, 'GET'),
  }),
  route({
    method: 'GET',
    path: '/ci/:project/:build/logs.zip',
    family: 'ci',
    access: 'read',
    target: 'account',
    queryToken: true,
    summary: 'the zip of a build',
    handle: ciZip,
  }),

  // Signed links: the signature is the credential
  route({ method: 'GET', path: '/links/blob', family: 'link', access: 'link', linkMethod: 'GET', summary: 'download through a signed link', handle: download }),
  route({ method: 'HEAD', path: '/links/blob', family: 'link', access: 'link', linkMethod: 'GET', summary: 'head through a signed link', handle: download }),
  route({ method: 'PUT', path: '/links/blob', family: 'link', access: 'link', linkMethod: 'PUT', summary: 'upload through a signed link', handle: upload }),
  route({ method: 'POST', path: '/links/blob', family: 'link', access: 'link', linkMethod: 'PUT', summary: 'upload through a signed link', handle: upload }),
  route({
    method: 'GET',
    path: '/links/zip',
    family: 'link',
    access: 'link',
    linkMethod: 'ZIP',
    target: 'account',
    summary: 'a zip through a signed link',
    handle: signedZip,
  }),

  // The service itself
  route({ method: 'GET', path: '/healthz', family: 'service', access: 'public', target: 'none', summary: 'liveness', handle: liveness }),
  route({
    method: 'GET',
    path: '/ready/healthz',
    family: 'service',
    access: 'public',
    target: 'none',
    summary: 'readiness of every backend',
    handle: readiness,
  }),
  route({ method: 'GET', path: '/metrics', family: 'service', access: 'admin', target: 'none', summary: 'Prometheus metrics', handle: metrics }),
  route({
    method: 'GET',
    path: '/info/stream',
    family: 'service',
    access: 'admin',
    target: 'none',
    summary: 'open streams of every account (Harness Info)',
    handle: allStreamInfo,
  }),
  route({ method: 'GET', path: '/token', family: 'service', access: 'admin', target: 'none', summary: 'mint an account or scoped token', handle: mintToken }),
];
