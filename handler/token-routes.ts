// GET /token: the global token mints account tokens (Harness format), and
// scoped tokens limited to a key prefix and to read or write (DESIGN §8).
import { Router } from 'express';
import { ServiceError } from '../foundation/errors.ts';
import { mintAccountToken, type TokenScope } from './account-token.ts';
import { queryOf } from './blob-routes.ts';
import type { HandlerContext } from './context.ts';
import { validateAccount, validatePrefix } from './keys.ts';

const MAX_TTL_SECONDS = 30 * 24 * 3600;

export function tokenRouter(ctx: HandlerContext): Router {
  const r = Router();
  r.get('/token', (req, res) => {
    const query = queryOf(req);
    const grant = ctx.auth.identify(req);
    const account = validateAccount(query.get('accountID') ?? undefined);
    ctx.auth.authorize(grant, account, 'admin');
    const secret = ctx.config.auth.secret;
    if (secret === undefined) {
      throw new ServiceError('LOGSVC_CONFLICT', 'account tokens need LOG_SERVICE_SECRET (or LOG_SERVICE_GLOBAL_TOKEN) to be set on the server');
    }
    const ttl = parseTtl(query.get('ttl'), ctx.config.auth.accountTokenTtlSeconds);
    const scope = parseScope(query.get('key'), query.get('access'));
    const token = mintAccountToken(secret, { accountID: account, expiresAtSeconds: Math.floor(Date.now() / 1000) + ttl, scope });
    // A credential: no cache (browser, proxy) may keep it.
    res.status(200).set('Cache-Control', 'no-store').type('text/plain').send(token);
  });
  return r;
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
