// Zip of a whole build (DESIGN §5.1): GET /ci/:project/:build/logs.zip streams
// it; the Harness route POST /blob/download answers {link, status, expires}
// where the link fetches the same zip — a signed link to this service on LMDB
// (built on the fly when fetched), or an S3 presigned link to a zip object
// that is written on the first request.
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Router } from 'express';
import { ServiceError } from '../foundation/errors.ts';
import { zipBlobs, zipEntries } from '../store/zip-archive.ts';
import { publicBase } from './blob-handlers.ts';
import { queryOf } from './blob-routes.ts';
import type { HandlerContext } from './context.ts';
import { internalName, validateAccount, validateCiId, validatePrefix } from './keys.ts';
import { optionalAccount } from './stream-routes.ts';


export function zipRouter(ctx: HandlerContext): Router {
  const r = Router();
  const exports = ctx.zipExports;

  r.get('/ci/:project/:build/logs.zip', async (req, res) => {
    const query = queryOf(req);
    const grant = ctx.auth.identify(req, query.get('token'));
    const p = req.params;
    const prefix = `${validateCiId('project', p.project)}/${validateCiId('build', p.build)}`;
    const account = ctx.auth.accountFor(grant, optionalAccount(query));
    ctx.auth.authorizePrefix(grant, account, 'read', `${prefix}/`);
    await sendZip(ctx, res, account, `${prefix}/`, `${p.project}-${p.build}-logs.zip`);
  });

  r.post('/blob/download', async (req, res) => {
    const query = queryOf(req);
    const grant = ctx.auth.identify(req);
    const account = validateAccount(query.get('accountID') ?? undefined);
    // A prefix names a folder: "proj/b" zips proj/b/…, never proj/b2/… (whose entries would be named "2/…").
    const prefix = asFolder(validatePrefix(query.get('prefix') ?? undefined));
    ctx.auth.authorizePrefix(grant, account, 'read', prefix);
    if (exports !== undefined) {
      res.status(200).json(await exports.request(account, prefix));
      return;
    }
    // The checks the zip itself makes, answered now rather than when the link is used.
    await zipEntries(ctx.store, internalName(account, prefix), { maxEntries: ctx.config.limits.zipMaxEntries, label: prefix });
    const seconds = ctx.config.linkExpirySeconds;
    const signed = ctx.links.sign({ method: 'ZIP', accountID: account, key: prefix, expires: Math.floor(Date.now() / 1000) + seconds });
    res.status(200).json({ link: `${publicBase(ctx, req)}/links/zip?${signed}`, status: 'success', expires: seconds * 1e9 });
  });

  r.get('/links/zip', async (req, res) => {
    const target = ctx.links.verify(queryOf(req), 'ZIP');
    const prefix = asFolder(validatePrefix(target.key));
    await sendZip(ctx, res, target.accountID, prefix, `${prefix.replace(/[^A-Za-z0-9._-]+/g, '-')}.zip`);
  });
  return r;
}

function asFolder(prefix: string): string {
  return prefix.endsWith('/') ? prefix : `${prefix}/`;
}

async function sendZip(ctx: HandlerContext, res: ServerResponse, account: string, keyPrefix: string, filename: string): Promise<void> {
  const prefix = internalName(account, keyPrefix);
  // Counting happens before the first byte: errors are still proper JSON answers.
  // Stored zips (ZipExports) live under "~zip/", outside every account, so no zip ever holds one.
  const zip = await zipBlobs(ctx.store, prefix, { maxEntries: ctx.config.limits.zipMaxEntries, label: keyPrefix });
  res.writeHead(200, {
    'Content-Type': 'application/zip',
    'Content-Disposition': `attachment; filename="${filename.replace(/"/g, '')}"`,
    'Cache-Control': 'no-store',
  });
  await pipeline(zip, res).catch((err: unknown) => {
    ctx.log.warn({ err, prefix }, 'zip download ended early');
    res.destroy();
  });
}


