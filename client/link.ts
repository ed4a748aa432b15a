// Links (DESIGN §5.1): `{"link": "<url>", "expires": <nanoseconds>}`. A link
// is a credential of its own — the client never adds its token to it.
import { LogServiceError } from './log-service-error.ts';
import type { Link } from './types.ts';

export function parseLink(answer: unknown, server: URL): Link {
  const { link, expires } = (typeof answer === 'object' && answer !== null ? answer : {}) as Record<string, unknown>;
  if (typeof link !== 'string' || link === '') {
    throw new LogServiceError('LOGSVC_BAD_RESPONSE', `expected {"link", "expires"}, got ${JSON.stringify(answer)}`);
  }
  // A relative link is relative to the service (LMDB signed links served by the service itself).
  return { link: new URL(link, server).href, expires: typeof expires === 'number' ? expires : 0 };
}

export function linkUrl(link: string | Link, server: URL): URL {
  return new URL(typeof link === 'string' ? link : link.link, server);
}
