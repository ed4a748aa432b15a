// Zip of a whole build (docs/API.md, "Zip"): GET /ci/:project/:build/logs.zip
// streams it; the Harness route POST /blob/download answers {link, status,
// expires} where the link fetches the same zip — a signed link to this
// service on LMDB (built on the fly when fetched), or an S3 presigned link to
// a zip object that is written on the first request (store/zip-export.ts).
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { zipBlobs, zipEntries } from '../store/zip-archive.ts';
import { publicBase } from './blob-handlers.ts';
import type { HandlerContext } from './context.ts';
import { internalName, validateCiId, validatePrefix } from './keys.ts';
import type { RouteCall } from './route-call.ts';
import { sendJson } from './responses.ts';

/** GET /ci/:project/:build/logs.zip */
export async function ciZip(call: RouteCall): Promise<void> {
  const { project, build } = call.params;
  const prefix = `${validateCiId('project', project)}/${validateCiId('build', build)}/`;
  call.authorizePrefix(prefix);
  await sendZip(call.ctx, call.res, call.account, prefix, `${project}-${build}-logs.zip`);
}

/** POST /blob/download?accountID=&prefix= */
export async function zipLink(call: RouteCall): Promise<void> {
  const { ctx, account } = call;
  // A prefix names a folder: "proj/b" zips proj/b/…, never proj/b2/… (whose entries would be named "2/…").
  const prefix = asFolder(validatePrefix(call.query.get('prefix') ?? undefined));
  call.authorizePrefix(prefix);
  if (ctx.zipExports !== undefined) {
    sendJson(call.res, 200, await ctx.zipExports.request(account, prefix));
    return;
  }
  // The checks the zip itself makes, answered now rather than when the link is used.
  await zipEntries(ctx.store, internalName(account, prefix), { maxEntries: ctx.config.limits.zipMaxEntries, label: prefix });
  const seconds = ctx.config.linkExpirySeconds;
  const signed = ctx.links.sign({ method: 'ZIP', accountID: account, key: prefix, expires: Math.floor(Date.now() / 1000) + seconds });
  // Harness's shape: `expires` is the link's expiry as an RFC 3339 time (store/zip-export.ts).
  const expires = new Date(Date.now() + seconds * 1000).toISOString();
  sendJson(call.res, 200, { link: `${publicBase(ctx, call.req)}/links/zip?${signed}`, status: 'success', expires });
}

/** GET /links/zip: a signed zip link (LMDB). */
export async function signedZip(call: RouteCall): Promise<void> {
  const prefix = asFolder(validatePrefix(call.key));
  await sendZip(call.ctx, call.res, call.account, prefix, `${prefix.replace(/[^A-Za-z0-9._-]+/g, '-')}.zip`);
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
