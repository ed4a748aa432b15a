// Who is calling and what they may do (docs/SECURITY.md). Auth is on when a global
// token is configured. The global token opens everything; an account token
// opens its own account; a scoped token opens keys under one prefix, for
// reading or for writing only.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Config } from '../foundation/config.ts';
import { ServiceError } from '../foundation/errors.ts';
import { verifyAccountToken, type TokenScope } from './account-token.ts';

/** read: tail, download, info, exists, download links. write: open, push, close, upload, delete, upload links. */
export type Access = 'read' | 'write' | 'admin';

/** What a request's credentials grant. `account` undefined = every account. */
export interface Grant {
  global: boolean;
  account?: string;
  scope?: TokenScope;
}

export class Authenticator {
  private readonly globalDigest?: Buffer;

  constructor(
    private readonly config: Config['auth'],
    private readonly now: () => number = Date.now,
  ) {
    if (config.globalToken !== undefined) this.globalDigest = digest(config.globalToken);
  }

  get enabled(): boolean {
    return this.globalDigest !== undefined && !this.config.disabled;
  }

  /**
   * The grant for a request. `queryToken` is accepted only where browsers
   * cannot set headers (EventSource, plain downloads): the caller decides.
   */
  identify(req: IncomingMessage, queryToken?: string | null): Grant {
    if (!this.enabled) return { global: true };
    return this.identifyToken(tokenFrom(req) ?? (queryToken || undefined));
  }

  /**
   * The grant for a token found elsewhere than in HTTP headers (gRPC metadata,
   * grpc/call-auth.ts): the same tokens open the same things on every surface.
   */
  identifyToken(token: string | undefined): Grant {
    if (!this.enabled) return { global: true };
    if (token === undefined) throw new ServiceError('LOGSVC_UNAUTHORIZED');
    // Compare digests so the comparison is constant-time whatever the lengths.
    if (timingSafeEqual(digest(token), this.globalDigest!)) return { global: true };
    const secret = this.config.secret;
    if (secret !== undefined) {
      const check = verifyAccountToken(secret, token, Math.floor(this.now() / 1000));
      if (check.ok) return { global: false, account: check.accountID, scope: check.scope };
      if (check.reason === 'expired') throw new ServiceError('LOGSVC_TOKEN_EXPIRED');
    }
    throw new ServiceError('LOGSVC_FORBIDDEN', 'the token is not valid');
  }

  /**
   * Throws LOGSVC_FORBIDDEN unless the grant covers `access` on `account`
   * (and on `key`, for scoped tokens; a key-less operation such as info is
   * checked against the scope by the caller filtering its result).
   */
  authorize(grant: Grant, account: string, access: Access, key?: string): void {
    if (grant.global) return;
    if (access === 'admin') throw new ServiceError('LOGSVC_FORBIDDEN', 'this needs the global token');
    if (grant.account !== account) throw new ServiceError('LOGSVC_FORBIDDEN', `the token does not open account "${account}"`);
    const scope = grant.scope;
    if (scope === undefined) return;
    if (scope.access !== access) throw new ServiceError('LOGSVC_FORBIDDEN', `the token is for ${scope.access} access only`);
    if (key !== undefined && !keyInScope(key, scope.keyPrefix)) {
      throw new ServiceError('LOGSVC_FORBIDDEN', `the token only opens keys under "${scope.keyPrefix}"`);
    }
  }

  /**
   * Like authorize, for operations over every key that starts with `prefix`
   * (close by prefix, zip). Listing matches by string prefix, so a scoped
   * token may only use prefixes that cannot reach past its scope: its own
   * prefix followed by "/" (e.g. scope "p/b" allows "p/b/" and "p/b/s/", not "p/b" or "p/").
   */
  authorizePrefix(grant: Grant, account: string, access: Access, prefix: string): void {
    this.authorize(grant, account, access);
    const scope = grant.scope;
    if (scope === undefined || scope.keyPrefix === '') return;
    const base = scope.keyPrefix.endsWith('/') ? scope.keyPrefix : `${scope.keyPrefix}/`;
    if (!prefix.startsWith(base)) {
      throw new ServiceError('LOGSVC_FORBIDDEN', `the token only opens keys under "${base}": use a prefix that starts with it`);
    }
  }

  /** The account CI routes use: the token's, or `requested` / "default" for the global token. */
  accountFor(grant: Grant, requested: string | undefined): string {
    if (!grant.global) return grant.account!;
    return requested ?? 'default';
  }
}

/** A key is in scope when it is the prefix or lies under it ("p/b" opens "p/b" and "p/b/s/t", not "p/bb"). */
export function keyInScope(key: string, prefix: string): boolean {
  if (prefix === '') return true;
  if (prefix.endsWith('/')) return key.startsWith(prefix);
  return key === prefix || key.startsWith(`${prefix}/`);
}

function tokenFrom(req: IncomingMessage): string | undefined {
  const harness = req.headers['x-harness-token'];
  if (typeof harness === 'string' && harness !== '') return harness;
  const authorization = req.headers.authorization;
  if (authorization !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (m) return m[1];
  }
  return undefined;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
