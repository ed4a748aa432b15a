// What a route handler receives: the request, and who is asking for what,
// already resolved from the route's declaration (handler/routes.ts) by
// handler/route-resolver.ts. Handlers never authenticate by themselves; the
// few that address more than one key (close by prefix or list, zip) check
// those keys through the call.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Access, Grant } from './auth.ts';
import type { HandlerContext } from './context.ts';

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Which addressing a route uses (docs/PROTOCOL.md §2). */
export type RouteFamily =
  /** Harness query routes: ?accountID=&key= */
  | 'harness'
  /** CI path routes: /ci/:project/:build/:stage/:step/…, the account from the token */
  | 'ci'
  /** Signed links: the signature is the credential */
  | 'link'
  /** Health, metrics and tokens: no key */
  | 'service';

/**
 * What a route needs: `read`/`write` on the account and key, `admin` (the
 * global token), `public` (nothing), `link` (a valid signature for GET, PUT
 * or ZIP).
 */
type RouteAccess = Access | 'public' | 'link';

/** What a route addresses: one key (checked against scoped tokens), the account as a whole, or nothing. */
type RouteTarget = 'key' | 'account' | 'none';

export interface RouteCall {
  readonly ctx: HandlerContext;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly query: URLSearchParams;
  /** Decoded path parameters (`:project` → params.project). */
  readonly params: Readonly<Record<string, string>>;
  readonly grant: Grant;
  /** The account the route acts in ('' on routes without one). */
  readonly account: string;
  /** The key, on `target: 'key'` routes ('' otherwise). */
  readonly key: string;
  /** Checks one more key against the grant (close by list). */
  authorizeKey(key: string): void;
  /** Checks a key prefix against the grant (close by prefix, zip). */
  authorizePrefix(prefix: string): void;
}

/** A handler's promise may carry a result (a tail's outcome); only its failure is used. */
type RouteHandler = (call: RouteCall) => Promise<unknown> | void;

export interface RouteSpec {
  method: Method;
  /** The path pattern; `:name` is one path segment. */
  path: string;
  family: RouteFamily;
  access: RouteAccess;
  target: RouteTarget;
  /**
   * The token may also come in the query (`?token=`): only where browsers
   * cannot set headers — EventSource tails and plain downloads.
   */
  queryToken: boolean;
  /** For `link` routes: the signed method the link must carry. */
  linkMethod?: 'GET' | 'PUT' | 'ZIP';
  /** One line for the docs and the route listing. */
  summary: string;
  handle: RouteHandler;
}
