// How the tail port names streams (docs/TAILSRV.md §6). An account token sees
// its own account: a name is the key, as in `?key=` or the CI path
// (`project/build/stage/step`). The global token (or no auth) sees every
// account, so a name carries the account first, `<account>/<key>`, as
// GET /info/stream keys them. Access is checked exactly as for HTTP reads.
import type { LogStream } from '../../stream/log-stream.ts';
import { keyInScope, type Authenticator, type Grant } from '../auth.ts';
import { internalName, validateAccount, validateKey } from '../keys.ts';
import { ServiceError } from '../../foundation/errors.ts';

export interface StreamAddress {
  account: string;
  key: string;
  /** The backend's name, `<account>/<key>`. */
  name: string;
}

/** The account and key a `stream <name>` header addresses; throws LOGSVC_* errors when invalid or not allowed. */
export function resolveStreamName(auth: Authenticator, grant: Grant, requested: string): StreamAddress {
  let account: string;
  let key: string;
  if (grant.global) {
    const slash = requested.indexOf('/');
    if (slash === -1) throw new ServiceError('LOGSVC_INVALID_KEY', 'with the global token a name is <account>/<key>, as "list" shows');
    account = validateAccount(requested.slice(0, slash));
    key = validateKey(requested.slice(slash + 1));
  } else {
    account = grant.account!;
    key = validateKey(requested);
  }
  auth.authorize(grant, account, 'read', key);
  return { account, key, name: internalName(account, key) };
}

/** The open streams the grant may read, as `stream` takes their names, sorted. */
export async function listStreamNames(stream: LogStream, auth: Authenticator, grant: Grant): Promise<string[]> {
  if (grant.global) return [...(await stream.info('')).keys()].sort();
  const account = grant.account!;
  // A write-only token reads nothing: refused here as on HTTP.
  auth.authorize(grant, account, 'read');
  const prefix = `${account}/`;
  const keyPrefix = grant.scope?.keyPrefix;
  const names: string[] = [];
  for (const name of (await stream.info(prefix)).keys()) {
    const key = name.slice(prefix.length);
    if (keyPrefix === undefined || keyInScope(key, keyPrefix)) names.push(key);
  }
  return names.sort();
}
