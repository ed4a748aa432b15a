// Turns a matched route and its request into a RouteCall: who is asking
// (grant), in which account, for which key — from the route's declaration
// alone, so every route of a family is checked the same way
// (docs/SECURITY.md; docs/PROTOCOL.md §2 for the addressing).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ServiceError } from '../foundation/errors.ts';
import type { Grant } from './auth.ts';
import type { HandlerContext } from './context.ts';
import { ciKey, validateAccount, validateKey } from './keys.ts';
import type { RouteCall, RouteSpec } from './route-call.ts';

const EVERYTHING: Grant = { global: true };

/** authorizeKey/authorizePrefix of a route that addresses no key: one function, not one per request. */
const deny = (): never => {
  throw new ServiceError('LOGSVC_FORBIDDEN', 'this route addresses no key');
};

export function resolveCall(
  ctx: HandlerContext,
  route: RouteSpec,
  req: IncomingMessage,
  res: ServerResponse,
  params: Record<string, string>,
  query: URLSearchParams,
): RouteCall {
  switch (route.access) {
    case 'public':
      return new Call(ctx, req, res, query, params, EVERYTHING, '', '', deny, deny);
    case 'link': {
      // The signature is the credential: it names the account, the key and the method.
      const signed = ctx.links.verify(query, route.linkMethod ?? 'GET');
      const key = route.target === 'key' ? validateKey(signed.key) : signed.key;
      return new Call(ctx, req, res, query, params, EVERYTHING, signed.accountID, key, deny, deny);
    }
    case 'admin': {
      const grant = ctx.auth.identify(req);
      if (!grant.global) throw new ServiceError('LOGSVC_FORBIDDEN', 'this needs the global token');
      return new Call(ctx, req, res, query, params, grant, '', '', deny, deny);
    }
    default: {
      const access = route.access;
      const grant = ctx.auth.identify(req, route.queryToken ? queryToken(query) : null);
      const account = route.family === 'ci' ? ctx.auth.accountFor(grant, optionalAccount(query)) : validateAccount(query.get('accountID') ?? undefined);
      ctx.auth.authorize(grant, account, access);
      let key = '';
      if (route.target === 'key') {
        key = route.family === 'ci' ? ciKey(params) : validateKey(query.get('key') ?? undefined);
        ctx.auth.authorize(grant, account, access, key);
      }
      return new Call(
        ctx,
        req,
        res,
        query,
        params,
        grant,
        account,
        key,
        (k) => ctx.auth.authorize(grant, account, access, k),
        (prefix) => ctx.auth.authorizePrefix(grant, account, access, prefix),
      );
    }
  }
}

/**
 * A RouteCall of one shape for every route: the object spread it replaced
 * (`{ ...base, grant, … }`) was ~5 % of the main thread under the push load
 * (BENCHMARKS.md, "ingest: a push kept as sent").
 */
class Call implements RouteCall {
  constructor(
    readonly ctx: HandlerContext,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly query: URLSearchParams,
    readonly params: Record<string, string>,
    readonly grant: Grant,
    readonly account: string,
    readonly key: string,
    readonly authorizeKey: (key: string) => void,
    readonly authorizePrefix: (prefix: string) => void,
  ) {}
}

/**
 * A token in the query: `?token=`, or `?X-Harness-Token=`, the name Harness
 * reads on every route and browser code tails with
 * (`new EventSource(…&X-Harness-Token=…)`).
 */
function queryToken(query: URLSearchParams): string | null {
  return query.get('token') || query.get('X-Harness-Token');
}

/** `?accountID=` on CI routes: only the global token may name an account; absent → "default". */
function optionalAccount(query: URLSearchParams): string | undefined {
  const requested = query.get('accountID');
  return requested === null || requested === '' ? undefined : validateAccount(requested);
}
