// Express routes for blobs and links (DESIGN §5.1, §5.2). Blob bodies are
// never parsed by middleware: the request stream goes straight to the store.
import { Router, type Request, type Response } from 'express';
import type { Access, Grant } from './auth.ts';
import { blobExists, blobLink, deleteBlob, downloadBlob, uploadBlob } from './blob-handlers.ts';
import type { HandlerContext } from './context.ts';
import { ciKey, validateAccount, validateKey } from './keys.ts';
import { optionalAccount } from './stream-routes.ts';

export function queryOf(req: Request): URLSearchParams {
  const i = req.url.indexOf('?');
  return new URLSearchParams(i === -1 ? '' : req.url.slice(i + 1));
}

/** Harness addressing: ?accountID=&key=. GET/HEAD downloads may carry ?token= (browsers). */
function harnessTarget(ctx: HandlerContext, req: Request, access: Access, allowQueryToken = false): { account: string; key: string; grant: Grant } {
  const query = queryOf(req);
  const grant = ctx.auth.identify(req, allowQueryToken ? query.get('token') : null);
  const account = validateAccount(query.get('accountID') ?? undefined);
  const key = validateKey(query.get('key') ?? undefined);
  ctx.auth.authorize(grant, account, access, key);
  return { account, key, grant };
}

function ciTarget(ctx: HandlerContext, req: Request, access: Access, allowQueryToken = false): { account: string; key: string } {
  const query = queryOf(req);
  const grant = ctx.auth.identify(req, allowQueryToken ? query.get('token') : null);
  const p = req.params as Record<string, string>;
  const key = ciKey({ project: p.project, build: p.build, stage: p.stage, step: p.step });
  const account = ctx.auth.accountFor(grant, optionalAccount(query));
  ctx.auth.authorize(grant, account, access, key);
  return { account, key };
}

export function blobRouter(ctx: HandlerContext): Router {
  const r = Router();
  const json = (res: Response, value: unknown) => res.status(200).json(value);

  // Harness-compatible query routes
  r.post('/blob', async (req, res) => { const t = harnessTarget(ctx, req, 'write'); await uploadBlob(ctx, t.account, t.key, req, res); });
  r.put('/blob', async (req, res) => { const t = harnessTarget(ctx, req, 'write'); await uploadBlob(ctx, t.account, t.key, req, res); });
  r.get('/blob', async (req, res) => { const t = harnessTarget(ctx, req, 'read', true); await downloadBlob(ctx, t.account, t.key, req, res); });
  r.head('/blob', async (req, res) => { const t = harnessTarget(ctx, req, 'read', true); await downloadBlob(ctx, t.account, t.key, req, res); });
  r.delete('/blob', async (req, res) => { const t = harnessTarget(ctx, req, 'write'); await deleteBlob(ctx, t.account, t.key, res); });
  r.get('/blob/exists', async (req, res) => { const t = harnessTarget(ctx, req, 'read'); await blobExists(ctx, t.account, t.key, res); });
  r.post('/blob/link/upload', async (req, res) => { const t = harnessTarget(ctx, req, 'write'); json(res, await blobLink(ctx, t.account, t.key, 'PUT', req)); });
  r.post('/blob/link/download', async (req, res) => { const t = harnessTarget(ctx, req, 'read'); json(res, await blobLink(ctx, t.account, t.key, 'GET', req)); });

  // CI path routes
  const step = '/ci/:project/:build/:stage/:step';
  r.put(`${step}/blob`, async (req, res) => { const t = ciTarget(ctx, req, 'write'); await uploadBlob(ctx, t.account, t.key, req, res); });
  r.post(`${step}/blob`, async (req, res) => { const t = ciTarget(ctx, req, 'write'); await uploadBlob(ctx, t.account, t.key, req, res); });
  r.get(`${step}/blob`, async (req, res) => { const t = ciTarget(ctx, req, 'read', true); await downloadBlob(ctx, t.account, t.key, req, res); });
  r.head(`${step}/blob`, async (req, res) => { const t = ciTarget(ctx, req, 'read', true); await downloadBlob(ctx, t.account, t.key, req, res); });
  r.delete(`${step}/blob`, async (req, res) => { const t = ciTarget(ctx, req, 'write'); await deleteBlob(ctx, t.account, t.key, res); });
  r.post(`${step}/blob/link/upload`, async (req, res) => { const t = ciTarget(ctx, req, 'write'); json(res, await blobLink(ctx, t.account, t.key, 'PUT', req)); });
  r.post(`${step}/blob/link/download`, async (req, res) => { const t = ciTarget(ctx, req, 'read'); json(res, await blobLink(ctx, t.account, t.key, 'GET', req)); });

  // Signed links to this service: the signature is the credential.
  r.get('/links/blob', async (req, res) => { const t = ctx.links.verify(queryOf(req), 'GET'); await downloadBlob(ctx, t.accountID, validateKey(t.key), req, res); });
  r.head('/links/blob', async (req, res) => { const t = ctx.links.verify(queryOf(req), 'GET'); await downloadBlob(ctx, t.accountID, validateKey(t.key), req, res); });
  r.put('/links/blob', async (req, res) => { const t = ctx.links.verify(queryOf(req), 'PUT'); await uploadBlob(ctx, t.accountID, validateKey(t.key), req, res); });
  r.post('/links/blob', async (req, res) => { const t = ctx.links.verify(queryOf(req), 'PUT'); await uploadBlob(ctx, t.accountID, validateKey(t.key), req, res); });
  return r;
}
