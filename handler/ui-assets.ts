// The web log viewer's files (docs/VIEWER.md §1), served by the server itself
// on the same origin as the API: `/` redirects to `/ui/`; `/ui/assets/<name>`
// is a file of the bundle (content-hashed names, cached for a year); any other
// `/ui/…` path is index.html (no-cache), and the page routes itself. The
// bundle is built into dist-ui/ by `npm install` (bin/build-ui.js); the pages
// are public, the data they read is not (the page sends the viewer's token).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { ServiceError } from '../foundation/errors.ts';

interface Asset {
  body: Buffer;
  gzip: Buffer;
  type: string;
}

interface Bundle {
  index: Asset;
  assets: Map<string, Asset>;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** The page talks only to its own origin; inline styles carry the ANSI colours of each span. */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

let bundle: Bundle | undefined;

/** True when the request is the viewer's (and was answered). */
export function serveUi(req: IncomingMessage, res: ServerResponse, path: string): boolean {
  if (path !== '/' && path !== '/ui' && !path.startsWith('/ui/')) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    throw new ServiceError('LOGSVC_METHOD_NOT_ALLOWED', 'the web viewer answers GET and HEAD only');
  }
  if (path === '/' || path === '/ui') {
    res.writeHead(302, { Location: '/ui/', 'Content-Length': 0 }).end();
    return true;
  }
  const loaded = loadBundle();
  if (path.startsWith('/ui/assets/')) {
    const asset = loaded.assets.get(path.slice('/ui/assets/'.length));
    if (asset === undefined) throw new ServiceError('LOGSVC_NOT_FOUND', `no such file of the web viewer: ${path.slice(0, 200)}`);
    send(req, res, asset, 'public, max-age=31536000, immutable');
    return true;
  }
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  send(req, res, loaded.index, 'no-cache');
  return true;
}

function send(req: IncomingMessage, res: ServerResponse, asset: Asset, cacheControl: string): void {
  const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  const body = gzip ? asset.gzip : asset.body;
  res.writeHead(200, {
    'Content-Type': asset.type,
    'Content-Length': body.length,
    'Cache-Control': cacheControl,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    Vary: 'Accept-Encoding',
    ...(gzip ? { 'Content-Encoding': 'gzip' } : {}),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** The built bundle, read once (it is small: ~110 KB); a missing build is a 404 that says how to build it. */
function loadBundle(): Bundle {
  if (bundle !== undefined) return bundle;
  const dir = join(packageRoot(), 'dist-ui');
  if (!existsSync(join(dir, 'index.html'))) {
    throw new ServiceError('LOGSVC_NOT_FOUND', 'the web viewer is not built: run `npm install` (its prepare step builds it) or `npm run build:ui`');
  }
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(join(dir, 'assets'))) assets.set(name, asset(join(dir, 'assets', name)));
  bundle = { index: asset(join(dir, 'index.html')), assets };
  return bundle;
}

function asset(file: string): Asset {
  const body = readFileSync(file);
  const ext = file.slice(file.lastIndexOf('.'));
  return { body, gzip: gzipSync(body), type: TYPES[ext] ?? 'application/octet-stream' };
}

/** The folder holding package.json: this file runs from handler/ (sources) or build/handler/ (compiled). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}
