// Finds the route for a method and path in the route table. Patterns are
// split into segments once; a request is compared only with the patterns of
// its segment count, literal segments first. Parameters are percent-decoded
// (RFC 3986 §2.1); a bad escape is the caller's mistake, not a miss.
import { ServiceError } from '../foundation/errors.ts';
import type { Method, RouteSpec } from './route-call.ts';

interface Compiled {
  route: RouteSpec;
  /** Literal segment, or null where the pattern has a parameter. */
  literals: (string | null)[];
  names: (string | null)[];
}

export type RouteMatch =
  | { kind: 'found'; route: RouteSpec; params: Record<string, string> }
  /** The path exists, the method does not: 405 with these methods. */
  | { kind: 'method'; allowed: Method[] }
  | { kind: 'none' };

export class RouteMatcher {
  private readonly bySegments = new Map<number, Compiled[]>();

  constructor(routes: readonly RouteSpec[]) {
    for (const route of routes) {
      const parts = route.path.split('/');
      const compiled: Compiled = {
        route,
        literals: parts.map((p) => (p.startsWith(':') ? null : p)),
        names: parts.map((p) => (p.startsWith(':') ? p.slice(1) : null)),
      };
      const list = this.bySegments.get(parts.length) ?? [];
      list.push(compiled);
      this.bySegments.set(parts.length, list);
    }
  }

  match(method: string, path: string): RouteMatch {
    const parts = path.split('/');
    const candidates = this.bySegments.get(parts.length);
    if (candidates === undefined) return { kind: 'none' };
    const allowed: Method[] = [];
    for (const c of candidates) {
      if (!sameShape(c, parts)) continue;
      if (c.route.method === method) return { kind: 'found', route: c.route, params: paramsOf(c, parts) };
      allowed.push(c.route.method);
    }
    return allowed.length > 0 ? { kind: 'method', allowed } : { kind: 'none' };
  }
}

function sameShape(c: Compiled, parts: string[]): boolean {
  for (let i = 0; i < parts.length; i++) {
    const literal = c.literals[i];
    if (literal === null) {
      if (parts[i] === '') return false; // a parameter is never empty
    } else if (literal !== parts[i]) {
      return false;
    }
  }
  return true;
}

function paramsOf(c: Compiled, parts: string[]): Record<string, string> {
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const name = c.names[i];
    if (name !== null && name !== undefined) params[name] = decodeSegment(parts[i]!);
  }
  return params;
}

function decodeSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ServiceError('LOGSVC_INVALID_ID', 'the path is not valid percent-encoding');
  }
}
