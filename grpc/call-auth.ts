// Who is calling and what a call addresses, from gRPC metadata and the
// request's account_id / key (docs/GRPC.md, "Auth"). The tokens are HTTP's:
// `authorization: Bearer …` or `x-harness-token`, checked by the same
// Authenticator, so accounts, scoped tokens and expiry mean the same here.
import type { Metadata } from '@grpc/grpc-js';
import { isServiceError, ServiceError } from '../foundation/errors.ts';
import type { Access, Grant } from '../handler/auth.ts';
import type { HandlerContext } from '../handler/context.ts';
import { internalName, validateAccount, validateKey } from '../handler/keys.ts';
import { CredentialError } from './status-mapping.ts';

/** The first value of a metadata key, as text. */
function text(metadata: Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : value.toString('utf8');
}

function tokenFrom(metadata: Metadata): string | undefined {
  const harness = text(metadata, 'x-harness-token');
  if (harness !== undefined && harness !== '') return harness;
  const authorization = text(metadata, 'authorization');
  if (authorization !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (m) return m[1];
  }
  return undefined;
}

export function identify(ctx: HandlerContext, metadata: Metadata): Grant {
  try {
    return ctx.auth.identifyToken(tokenFrom(metadata));
  } catch (err) {
    throw isServiceError(err) ? new CredentialError(err) : err;
  }
}

/**
 * The account a call addresses: account_id when given, else the token's own,
 * else "default" (the global token), as on the /ci routes. Naming another
 * account than the token's is PERMISSION_DENIED, not silently replaced.
 */
export function callAccount(grant: Grant, accountId: string | undefined): string {
  if (accountId !== undefined && accountId !== '') return validateAccount(accountId);
  return grant.account ?? 'default';
}

export interface Addressed {
  grant: Grant;
  account: string;
  key: string;
  /** `<account>/<key>`, the backend's name. */
  name: string;
}

/** Identifies the caller and authorizes `access` on account_id/key (LOGSVC_* errors otherwise). */
export function authorizeKey(ctx: HandlerContext, metadata: Metadata, access: Access, accountId: string | undefined, key: string | undefined): Addressed {
  const grant = identify(ctx, metadata);
  const account = callAccount(grant, accountId);
  ctx.auth.authorize(grant, account, access);
  // validateKey's own message names the HTTP query parameter.
  if (key === undefined || key === '')
    throw new ServiceError('LOGSVC_INVALID_KEY', 'key is required: set the request\'s key field (e.g. "project/build/stage/step")');
  const checked = validateKey(key);
  ctx.auth.authorize(grant, account, access, checked);
  return { grant, account, key: checked, name: internalName(account, checked) };
}

/** Identifies the caller and authorizes `access` on a whole account (Info). */
export function authorizeAccount(ctx: HandlerContext, metadata: Metadata, access: Access, accountId: string | undefined): { grant: Grant; account: string } {
  const grant = identify(ctx, metadata);
  const account = callAccount(grant, accountId);
  ctx.auth.authorize(grant, account, access);
  return { grant, account };
}
