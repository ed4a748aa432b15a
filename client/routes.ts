// Address → route (DESIGN §5.1 query routes, §5.2 CI path routes). Path
// segments and query values are percent-encoded, so any ID reaches the server
// as the caller wrote it and the server alone decides what is valid.
import { LogServiceError } from './log-service-error.ts';
import type { Address, CiAddress } from './types.ts';

export type Resource = 'stream' | 'blob' | 'blob/exists' | 'blob/link/upload' | 'blob/link/download';

export interface Route {
  path: string;
  query: Record<string, string | undefined>;
}

export function isCiAddress(address: Address): address is CiAddress {
  return 'project' in address;
}

/** The key the service stores this address under (DESIGN §3): `project/build/stage/step`, or the Harness key. */
export function keyOf(address: Address): string {
  return isCiAddress(address) ? `${address.project}/${address.build}/${address.stage}/${address.step}` : address.key;
}

export function routeFor(address: Address, resource: Resource): Route {
  if (isCiAddress(address)) {
    if (resource === 'blob/exists') throw new Error('CI routes have no blob/exists; use HEAD on the blob');
    return { path: `${ciPrefix(address)}/${resource}`, query: {} };
  }
  return { path: `/${resource}`, query: { accountID: address.accountID, key: address.key } };
}

export function streamInfoRoute(accountID: string | undefined): Route {
  return accountID === undefined ? { path: '/ci/streams', query: {} } : { path: '/stream/info', query: { accountID } };
}

function ciPrefix(address: CiAddress): string {
  const segments = [address.project, address.build, address.stage, address.step].map((id) => {
    // WHATWG URL §4.4: "." and ".." (even percent-encoded) are dot segments the URL parser removes,
    // so such an ID could never reach the server as written.
    if (id === '' || id === '.' || id === '..') {
      throw new LogServiceError('LOGSVC_INVALID_ID', `invalid CI id ${JSON.stringify(id)}: must be 1–128 of [A-Za-z0-9._:-], not "." or ".."`);
    }
    return encodeURIComponent(id);
  });
  return `/ci/${segments.join('/')}`;
}
