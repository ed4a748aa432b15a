// TLS settings for the client's requests. fetch takes them only through an
// undici Dispatcher (`dispatcher` in its init): an Agent whose `connect`
// options are those of tls.connect (`ca`, `cert`, `key`). Both fetch and the
// Agent come from the undici package (a dependency of log-service), so the
// dispatcher and the fetch that drives it are always the same version.
import { readFileSync } from 'node:fs';
import { Agent } from 'undici';
import type { PemSource } from './types.ts';

export interface TlsMaterial {
  ca?: PemSource;
  cert?: PemSource;
  key?: PemSource;
}

export type TlsBytes = { ca?: Buffer; cert?: Buffer; key?: Buffer };

export function hasTlsMaterial(tls: TlsMaterial): boolean {
  return tls.ca !== undefined || tls.cert !== undefined || tls.key !== undefined;
}

/** Reads PEM files once, up front, so a wrong path fails at construction and not mid-call. */
export function readTlsMaterial(tls: TlsMaterial): TlsBytes {
  const read = (source: PemSource | undefined): Buffer | undefined =>
    source === undefined ? undefined : typeof source === 'string' ? readFileSync(source) : source;
  const out: TlsBytes = {};
  const ca = read(tls.ca);
  const cert = read(tls.cert);
  const key = read(tls.key);
  if (ca !== undefined) out.ca = ca;
  if (cert !== undefined) out.cert = cert;
  if (key !== undefined) out.key = key;
  return out;
}

/** A connection pool that verifies the server with `ca` and presents `cert`/`key` (mutual TLS). */
export function createTlsDispatcher(material: TlsBytes): Agent {
  return new Agent({ connect: material });
}
