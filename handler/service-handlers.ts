// Routes about the service rather than a log (docs/API.md): liveness and
// readiness, Prometheus metrics, and minting tokens (docs/SECURITY.md).
import { ServiceError } from '../foundation/errors.ts';
import { mintAccountToken, type TokenScope } from './account-token.ts';
import { errorBody } from './error-response.ts';
import { validateAccount, validatePrefix } from './keys.ts';
import type { RouteCall } from './route-call.ts';
import { sendJson } from './responses.ts';

const MAX_TTL_SECONDS = 30 * 24 * 3600;
const READY_CHECK_MS = 2000;

/** GET /healthz: the process answers. */
export function liveness(call: RouteCall): void {
  sendJson(call.res, 200, { status: 'ok' });
}

/** GET /ready/healthz: every backend answers (503 with the failing one otherwise). */
export async function readiness(call: RouteCall): Promise<void> {
  const { ctx } = call;
  const checks = await Promise.all([check('stream', () => ctx.stream.ping()), check('store', () => ctx.store.ping())]);
  const failed = checks.filter((c) => !c.ok);
  if (ctx.shutdown.aborted) failed.push({ name: 'server', ok: false, error: 'shutting down' });
  if (failed.length === 0) {
    sendJson(call.res, 200, { status: 'ok', checks });
    return;
  }
  sendJson(call.res, 503, { ...errorBody('LOGSVC_BACKEND_UNAVAILABLE', `not ready: ${failed.map((c) => `${c.name}: ${c.error}`).join('; ')}`), checks });
}

async function check(name: string, ping: () => Promise<void>): Promise<{ name: string; ok: boolean; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${READY_CHECK_MS / 1000} s`)), READY_CHECK_MS);
  });
  try {
    await Promise.race([ping(), timeout]);
    return { name, ok: true };
  } catch (err) {
    return { name, ok: false, error: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

/** GET /metrics: Prometheus text format 0.0.4. */
export function metrics(call: RouteCall): void {
  const body = call.ctx.metrics.render(call.ctx.tails.total());
  call.res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  call.res.end(body);
}

/** GET /token: the global token mints account tokens (Harness format) and scoped tokens. */
export function mintToken(call: RouteCall): void {
  const { ctx, query } = call;
  const account = validateAccount(query.get('accountID') ?? undefined);
  const secret = ctx.config.auth.secret;
  if (secret === undefined) {
    throw new ServiceError('LOGSVC_CONFLICT', 'account tokens need LOG_SERVICE_SECRET (or LOG_SERVICE_GLOBAL_TOKEN) to be set on the server');
  }
  const ttl = parseTtl(query.get('ttl'), ctx.config.auth.accountTokenTtlSeconds);
  const scope = parseScope(query.get('key'), query.get('access'));
  const token = mintAccountToken(secret, { accountID: account, expiresAtSeconds: Math.floor(Date.now() / 1000) + ttl, scope });
  // A credential: no cache (browser, proxy) may keep it.
  call.res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(token) });
  call.res.end(token);
}

function parseTtl(raw: string | null, fallback: number): number {
  if (raw === null || raw === '') return fallback;
  const ttl = Number(raw);
  if (!Number.isSafeInteger(ttl) || ttl < 1 || ttl > MAX_TTL_SECONDS) {
    throw new ServiceError('LOGSVC_INVALID_PARAM', `ttl must be a number of seconds from 1 to ${MAX_TTL_SECONDS}`);
  }
  return ttl;
}

function parseScope(key: string | null, access: string | null): TokenScope | undefined {
  const hasKey = key !== null && key !== '';
  const hasAccess = access !== null && access !== '';
  if (!hasKey && !hasAccess) return undefined;
  if (access !== 'read' && access !== 'write') throw new ServiceError('LOGSVC_INVALID_PARAM', 'access must be "read" or "write"');
  return { access, keyPrefix: hasKey ? validatePrefix(key) : '' };
}
