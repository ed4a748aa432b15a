// TLS settings for Node's fetch. fetch takes them only through an undici
// Dispatcher (`dispatcher` in RequestInit), and the undici package is not a
// dependency. Node ships undici inside itself and registers its Agent as the
// global dispatcher under Symbol.for('undici.globalDispatcher.1') once fetch
// has run; that Agent class takes `connect: { ca, cert, key }` (the options of
// tls.connect). We build our Agent from that class.
import { readFileSync } from 'node:fs';
import type { PemSource } from './types.ts';

export interface TlsMaterial {
  ca?: PemSource;
  cert?: PemSource;
  key?: PemSource;
}

/** The Dispatcher type of Node's global fetch typings (from undici-types, via @types/node). */
export type Dispatcher = NonNullable<RequestInit['dispatcher']>;

type AgentClass = new (options: { connect: { ca?: Buffer; cert?: Buffer; key?: Buffer } }) => Dispatcher;

const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

export function hasTlsMaterial(tls: TlsMaterial): boolean {
  return tls.ca !== undefined || tls.cert !== undefined || tls.key !== undefined;
}

/** Reads PEM files once, up front, so a wrong path fails at construction and not mid-call. */
export function readTlsMaterial(tls: TlsMaterial): { ca?: Buffer; cert?: Buffer; key?: Buffer } {
  const read = (source: PemSource | undefined): Buffer | undefined =>
    source === undefined ? undefined : typeof source === 'string' ? readFileSync(source) : source;
  const out: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  const ca = read(tls.ca);
  const cert = read(tls.cert);
  const key = read(tls.key);
  if (ca !== undefined) out.ca = ca;
  if (cert !== undefined) out.cert = cert;
  if (key !== undefined) out.key = key;
  return out;
}

let agentClass: Promise<AgentClass> | undefined;

async function bundledAgentClass(): Promise<AgentClass> {
  const find = (): unknown => (globalThis as Record<symbol, unknown>)[GLOBAL_DISPATCHER];
  if (find() === undefined) {
    // A data: URL never touches the network; it makes Node load its undici and register the Agent.
    await (await fetch('data:,')).arrayBuffer();
  }
  const dispatcher = find();
  const ctor = typeof dispatcher === 'object' && dispatcher !== null ? (dispatcher as { constructor?: unknown }).constructor : undefined;
  if (typeof ctor !== 'function') {
    throw new Error('TLS options need the undici Agent that Node bundles with fetch, and this Node does not expose it');
  }
  return ctor as AgentClass;
}

export async function createTlsDispatcher(material: { ca?: Buffer; cert?: Buffer; key?: Buffer }): Promise<Dispatcher> {
  agentClass ??= bundledAgentClass();
  const Agent = await agentClass;
  return new Agent({ connect: material });
}
