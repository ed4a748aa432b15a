// gRPC clients for the tests, built with @grpc/grpc-js from the repo's own
// .proto (proto/logservice/v1/log_streams.proto), the way any other client
// would: the test plays the client side of the wire, never the server's.
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { within } from './bounded-wait.ts';

const PROTO_DIR = join(import.meta.dirname, '..', '..', 'proto');
const OPTIONS = { longs: Number, enums: String, defaults: false, oneofs: true };

const definition = loadSync('logservice/v1/log_streams.proto', { ...OPTIONS, includeDirs: [PROTO_DIR] });
type Ctor = new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => grpc.Client;
const pkg = grpc.loadPackageDefinition(definition) as unknown as { logservice: { v1: { LogStreams: Ctor } } };

/** The generated client: methods named as the proto's RPCs (Open, Push, …), lower-cased too (open, push, …). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type LogStreamsClient = grpc.Client & Record<string, any>;

export function logStreamsClient(address: string, credentials = grpc.credentials.createInsecure(), options?: grpc.ChannelOptions): LogStreamsClient {
  return new pkg.logservice.v1.LogStreams(address, credentials, options) as LogStreamsClient;
}

/** The generated client's `close` is the Close RPC: this closes the channel. */
export function closeClient(client: grpc.Client): void {
  grpc.Client.prototype.close.call(client);
}

export function tokenMetadata(token: string | undefined, header: 'authorization' | 'x-harness-token' = 'authorization'): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (token !== undefined) metadata.set(header, header === 'authorization' ? `Bearer ${token}` : token);
  return metadata;
}

export interface CallFailure {
  code: grpc.status;
  details: string;
  /** The catalogue code from the trailing metadata. */
  logsvc: string | undefined;
}

export function failureOf(err: grpc.ServiceError): CallFailure {
  const code = err.metadata?.get('logsvc-code')[0];
  return { code: err.code, details: err.details, logsvc: code === undefined ? undefined : String(code) };
}

/** A unary call as a promise; rejects with the ServiceError. */
export function unary<T = Record<string, unknown>>(
  client: LogStreamsClient,
  method: 'Open' | 'Close' | 'Info',
  request: object,
  metadata = new grpc.Metadata(),
  options: grpc.CallOptions = { deadline: Date.now() + 10_000 },
): Promise<T> {
  return new Promise((resolve, reject) => {
    client[method](request, metadata, options, (err: grpc.ServiceError | null, value: T) => (err ? reject(err) : resolve(value)));
  });
}

/** A unary call's failure (fails the test when it succeeds). */
export async function unaryFailure(
  client: LogStreamsClient,
  method: 'Open' | 'Close' | 'Info',
  request: object,
  metadata?: grpc.Metadata,
): Promise<CallFailure> {
  try {
    await unary(client, method, request, metadata);
  } catch (err) {
    return failureOf(err as grpc.ServiceError);
  }
  throw new Error(`${method} succeeded where it should have failed`);
}

export interface PushResult {
  acks: { lastSeq: number; lines: number }[];
  status: grpc.StatusObject;
}

/** One Push call: every message in order, then half-close; the acks and the final status. */
export function push(client: LogStreamsClient, messages: object[], metadata = new grpc.Metadata(), ms = 20_000): Promise<PushResult> {
  const call = client.Push(metadata, { deadline: Date.now() + ms }) as grpc.ClientDuplexStream<object, { lastSeq: number; lines: number }>;
  const acks: PushResult['acks'] = [];
  // proto3 leaves zeros off the wire: an absent field is 0.
  call.on('data', (ack: { lastSeq?: number; lines?: number }) => acks.push({ lastSeq: ack.lastSeq ?? 0, lines: ack.lines ?? 0 }));
  call.on('error', () => undefined); // the status says it
  const done = new Promise<PushResult>((resolve) => call.on('status', (status: grpc.StatusObject) => resolve({ acks, status })));
  for (const m of messages) call.write(m);
  call.end();
  return done;
}

export type TailMessage =
  | { event: 'lines'; lines: { lines: { seq: number; out: string; level: string; time: string; args?: Record<string, string>; pos?: number }[] } }
  | { event: 'dropped'; dropped: { from?: number; to?: number } }
  | { event: 'restart'; restart: { from?: number } }
  | { event: 'end'; end: object }
  | { event: 'reconnect'; reconnect: object }
  | { event: 'ping'; ping: object };

export interface TailResult {
  messages: TailMessage[];
  status: grpc.StatusObject;
}

/** Starts a Tail; `result` resolves with every message and the status when the call ends. */
export function tail(
  client: LogStreamsClient,
  request: object,
  metadata = new grpc.Metadata(),
  options: grpc.CallOptions = {},
): { call: grpc.ClientReadableStream<TailMessage>; messages: TailMessage[]; result: Promise<TailResult> } {
  const call = client.Tail(request, metadata, options) as grpc.ClientReadableStream<TailMessage>;
  const messages: TailMessage[] = [];
  call.on('data', (m: TailMessage) => messages.push(m));
  call.on('error', () => undefined);
  const result = new Promise<TailResult>((resolve) => call.on('status', (status: grpc.StatusObject) => resolve({ messages, status })));
  return { call, messages, result };
}

/** A whole Tail, bounded in time (fails after `ms`). */
export async function tailAll(client: LogStreamsClient, request: object, metadata?: grpc.Metadata, ms = 15_000): Promise<TailResult> {
  const t = tail(client, request, metadata, { deadline: Date.now() + ms });
  return t.result;
}

/** The seqs and texts of every line message. */
export function linesOf(messages: TailMessage[]): { seq: number; out: string }[] {
  return messages.flatMap((m) => (m.event === 'lines' ? m.lines.lines.map((l) => ({ seq: l.seq ?? 0, out: l.out ?? '' })) : []));
}

/** Polls `probe` until true, at most `ms`. */
export async function until(what: string, ms: number, probe: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await within(new Promise(() => undefined), 20);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

export { grpc };
