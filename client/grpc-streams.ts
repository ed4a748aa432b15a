// The stream calls over gRPC (docs/GRPC.md, docs/CLIENT.md "gRPC"): what a
// `grpc://` or `grpcs://` server URL selects. @grpc/grpc-js and the proto
// loader are imported here, on first use, and this module is itself imported
// only then (stream-handle.ts), so a client that speaks HTTP never loads them.
// Failures become the LogServiceErrors the HTTP calls throw: the catalogue
// code from the `logsvc-code` trailer and the HTTP status that code has, so
// callers (and the CLI's messages and exit codes) cannot tell the difference.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChannelCredentials, Client, ClientDuplexStream, ClientReadableStream, Metadata, ServiceError } from '@grpc/grpc-js';
import { LogServiceError } from './log-service-error.ts';
import { DEFAULT_IDLE_TIMEOUT_MS } from './sse-tail.ts';
import type { Address, LineInput, LogLine, TailEvent, TailOptions } from './types.ts';

type GrpcModule = typeof import('@grpc/grpc-js');

export interface GrpcTarget {
  /** host:port */
  address: string;
  tls: boolean;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  token: string | undefined;
}

/** What a failure that may pass is retried with (PushSender's policy). */
export type RetryDelay = (failure: LogServiceError, retryAfter: string | null) => number | undefined;

/** HTTP statuses of the gRPC codes, for errors that carry no catalogue code (docs/GRPC.md, "Errors"). */
const HTTP_STATUS: Record<number, number> = { 3: 400, 5: 404, 6: 409, 7: 403, 8: 429, 9: 409, 11: 416, 12: 405, 13: 500, 14: 503, 16: 401 };
/** The catalogue's HTTP statuses for the codes the gRPC service sends (foundation/errors.ts; the client cannot import it). */
const CODE_STATUS: Record<string, number> = {
  LOGSVC_UNAUTHORIZED: 401,
  LOGSVC_FORBIDDEN: 403,
  LOGSVC_TOKEN_EXPIRED: 403,
  LOGSVC_STREAM_NOT_FOUND: 404,
  LOGSVC_NOT_FOUND: 404,
  LOGSVC_BLOB_NOT_FOUND: 404,
  LOGSVC_TOO_MANY_TAILS: 429,
  LOGSVC_TOO_MANY_STREAMS: 429,
  LOGSVC_BODY_TOO_LARGE: 413,
  LOGSVC_BACKEND_UNAVAILABLE: 503,
  LOGSVC_SHUTTING_DOWN: 503,
  LOGSVC_STORAGE_FULL: 507,
  LOGSVC_INTERNAL: 500,
};

/** The package's proto/ directory: next to the package.json named "log-service" above this file (client/ or dist/client/). */
function protoRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)), up = 0; up < 5; dir = dirname(dir), up++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === 'log-service' && existsSync(join(dir, 'proto'))) return join(dir, 'proto');
    } catch {
      // no package.json here: one level up
    }
  }
  throw new Error('the proto/ directory of log-service was not found next to its package.json');
}

interface LineMessage {
  seq?: number;
  level?: string;
  out?: string;
  time?: string;
  args?: Record<string, string>;
  pos?: number;
}
type TailMessage = {
  lines?: { lines?: LineMessage[] };
  dropped?: { from?: number; to?: number };
  restart?: { from?: number };
  end?: object;
  reconnect?: object;
  ping?: object;
};

export class GrpcStreams {
  private pushCall: { call: ClientDuplexStream<object, { lastSeq?: number }>; name: string; waiting: ((err: Error | null) => void)[] } | undefined;

  private constructor(
    private readonly grpc: GrpcModule,
    private readonly client: Client & Record<string, CallableFunction>,
    private readonly target: GrpcTarget,
    private readonly timeoutMs: number,
  ) {}

  static async connect(target: GrpcTarget, timeoutMs: number): Promise<GrpcStreams> {
    const grpc = await import('@grpc/grpc-js');
    const { loadSync } = await import('@grpc/proto-loader');
    const def = loadSync('logservice/v1/log_streams.proto', { includeDirs: [protoRoot()], longs: Number, enums: String, defaults: false, oneofs: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as { logservice: { v1: { LogStreams: new (address: string, c: ChannelCredentials) => Client } } };
    const credentials = target.tls ? grpc.credentials.createSsl(target.ca ?? null, target.key ?? null, target.cert ?? null) : grpc.credentials.createInsecure();
    const client = new pkg.logservice.v1.LogStreams(target.address, credentials) as Client & Record<string, CallableFunction>;
    return new GrpcStreams(grpc, client, target, timeoutMs);
  }

  private metadata(): Metadata {
    const metadata = new this.grpc.Metadata();
    if (this.target.token !== undefined) metadata.set('authorization', `Bearer ${this.target.token}`);
    return metadata;
  }

  /** A gRPC failure as the LogServiceError the HTTP call would have thrown. */
  error(err: unknown, method: string): LogServiceError {
    if (err instanceof LogServiceError) return err;
    const e = err as Partial<ServiceError>;
    const url = `grpc://${this.target.address}/logservice.v1.LogStreams/${method}`;
    const code = e.metadata?.get('logsvc-code')[0];
    const details = e.details ?? (err instanceof Error ? err.message : String(err));
    if (code !== undefined)
      return new LogServiceError(String(code), details, { status: CODE_STATUS[String(code)] ?? HTTP_STATUS[e.code ?? 13], method, url, cause: err });
    if (e.code === this.grpc.status.DEADLINE_EXCEEDED)
      return new LogServiceError('LOGSVC_TIMEOUT', `${method} ${url}: no answer in time`, { method, url, cause: err });
    if (e.code === this.grpc.status.CANCELLED) return new LogServiceError('LOGSVC_ABORTED', `${method} ${url}: cancelled`, { method, url, cause: err });
    if (e.code === this.grpc.status.UNAVAILABLE) {
      // No catalogue code: the connection, not the service. The system error, when grpc-js names one, is kept for the retry policy.
      const errno = /\b(E[A-Z]{3,})\b/.exec(details)?.[1] ?? 'UNAVAILABLE';
      // grpc-js wraps the socket's error ("No connection established. Last error: Error: connect ECONNREFUSED …"): that error is what to say.
      const said = /Error: (.*?\bE[A-Z]{3,}\b.*?)(?:\. |\.?$)/.exec(details)?.[1] ?? details;
      return new LogServiceError('LOGSVC_NETWORK', `${method} ${url}: ${said}`, { method, url, cause: Object.assign(new Error(details), { code: errno }) });
    }
    return new LogServiceError('LOGSVC_BAD_RESPONSE', `${method} ${url}: ${details}`, { status: HTTP_STATUS[e.code ?? 13], method, url, cause: err });
  }

  private unary<T = void>(method: string, request: object, timeoutMs = this.timeoutMs): Promise<T> {
    return new Promise((resolve, reject) => {
      const deadline = Number.isFinite(timeoutMs) ? Date.now() + timeoutMs : Infinity;
      this.client[method]!(request, this.metadata(), { deadline }, (err: ServiceError | null, value: T) =>
        err ? reject(this.error(err, method)) : resolve(value),
      );
    });
  }

  /** The open streams of the account (the token's when `accountID` is absent), as GET /ci/streams answers them. */
  async info(accountID: string | undefined, timeoutMs?: number): Promise<Record<string, Record<string, unknown>>> {
    const answer = await this.unary<{ streams?: Record<string, Record<string, unknown>> }>(
      'Info',
      accountID === undefined ? {} : { accountId: accountID },
      timeoutMs,
    );
    return answer?.streams ?? {};
  }

  /** Runs `attempt` until it succeeds, or `retryDelay` says stop (failures that may pass: the network, UNAVAILABLE, a timeout). */
  async retried(attempt: () => Promise<void>, retryDelay: RetryDelay | undefined, signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      try {
        await attempt();
        return;
      } catch (err) {
        const failure = err as LogServiceError;
        const mayPass = failure.code === 'LOGSVC_NETWORK' || failure.code === 'LOGSVC_TIMEOUT' || failure.status === 503;
        const delay = mayPass && retryDelay !== undefined ? retryDelay(failure, null) : undefined;
        if (delay === undefined) throw failure;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
        });
        if (signal?.aborted === true) throw new LogServiceError('LOGSVC_ABORTED', 'the push was aborted', { cause: signal.reason });
      }
    }
  }

  open(address: Address, ttlSeconds: number | undefined, retryDelay?: RetryDelay, signal?: AbortSignal): Promise<void> {
    return this.retried(() => this.unary('Open', { ...addressing(address), timeoutSeconds: ttlSeconds ?? 0 }), retryDelay ?? (() => undefined), signal);
  }

  close(address: Address, snapshot: boolean): Promise<void> {
    return this.unary('Close', { ...addressing(address), snapshot });
  }

  /**
   * Sends one batch (NDJSON lines, as the HTTP push's body) on this handle's
   * Push call, and resolves at its ack. One batch at a time, like the HTTP
   * sender: the ack is the flow control. A broken call is dropped and the next
   * attempt opens a new one; `pushId` makes the retried batch stored once.
   */
  async sendBatch(address: Address, body: Buffer, pushId: string): Promise<void> {
    const lines: LineInput[] = [];
    for (const record of body.toString('utf8').split('\n')) if (record !== '') lines.push(JSON.parse(record) as LineInput);
    const name = JSON.stringify(addressing(address));
    let current = this.pushCall;
    const first = current === undefined || current.name !== name;
    if (first) {
      current?.call.end();
      current = this.startPush(name);
    }
    const open = current!;
    const acked = new Promise<void>((resolve, reject) => open.waiting.push((err) => (err ? reject(this.error(err, 'Push')) : resolve())));
    open.call.write({ ...(first ? addressing(address) : {}), lines: lines.map(lineMessage), pushId });
    // An ack that never comes (a server or path that went silent) is a timeout, as an HTTP push's
    // missing answer is: the call is dropped and the sender retries the batch on a new one (push_id).
    let timer: NodeJS.Timeout | undefined;
    const silent = new Promise<never>((_, reject) => {
      if (!Number.isFinite(this.timeoutMs)) return;
      timer = setTimeout(() => {
        if (this.pushCall === open) this.pushCall = undefined;
        open.call.cancel();
        reject(new LogServiceError('LOGSVC_TIMEOUT', `Push grpc://${this.target.address}: no ack in ${this.timeoutMs} ms`));
      }, this.timeoutMs);
    });
    acked.catch(() => undefined);
    try {
      await Promise.race([acked, silent]);
    } finally {
      clearTimeout(timer);
    }
  }

  private startPush(name: string): NonNullable<GrpcStreams['pushCall']> {
    const call = (this.client.Push as (m: Metadata) => ClientDuplexStream<object, { lastSeq?: number }>)(this.metadata());
    const state = { call, name, waiting: [] as ((err: Error | null) => void)[] };
    this.pushCall = state;
    const failAll = (err: Error) => {
      if (this.pushCall === state) this.pushCall = undefined;
      for (const w of state.waiting.splice(0)) w(err);
    };
    call.on('data', () => state.waiting.shift()?.(null));
    call.on('error', failAll);
    call.on('status', (s: { code: number; details: string; metadata: Metadata }) => {
      if (s.code === 0) failAll(Object.assign(new Error('the Push call ended'), { code: 14, details: 'the Push call ended', metadata: s.metadata }));
    });
    return state;
  }

  /** Follows a stream, reconnecting after UNAVAILABLE or a lifetime's end from the last seq seen, as the SSE tail does. */
  async *tail(address: Address, options: TailOptions): AsyncGenerator<TailEvent> {
    let from = options.from;
    let last = options.tail;
    let lastSeq: number | undefined;
    let failingSince: number | undefined;
    const reconnectFor = options.reconnectForMs ?? 60_000;
    for (let attempt = 0; ; attempt++) {
      const request = { ...addressing(address), ...(from !== undefined ? { fromSeq: from } : last !== undefined ? { lastLines: last } : {}) };
      const call = (this.client.Tail as (r: object, m: Metadata) => ClientReadableStream<TailMessage>)(request, this.metadata());
      const abort = () => call.cancel();
      options.signal?.addEventListener('abort', abort, { once: true });
      // The server sends a Ping when a tail is idle (every 15 s by default): silence for longer
      // than idleTimeoutMs means a dead path, which is cut and reconnected, as the SSE tail does.
      let idleExpired = false;
      let idleTimer: NodeJS.Timeout | undefined;
      const armIdle = () => {
        clearTimeout(idleTimer);
        idleTimer = setTimeout(() => {
          idleExpired = true;
          call.cancel();
        }, options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS);
      };
      armIdle();
      try {
        for await (const message of call as AsyncIterable<TailMessage>) {
          armIdle();
          failingSince = undefined;
          attempt = 0;
          if (message.lines !== undefined) {
            for (const l of message.lines.lines ?? []) {
              lastSeq = l.seq ?? 0;
              const line: LogLine = { level: l.level ?? '', pos: l.pos ?? 0, out: l.out ?? '', time: l.time ?? '' };
              if (l.args !== undefined) line.args = l.args;
              yield { type: 'line', seq: lastSeq, line };
            }
          } else if (message.dropped !== undefined) {
            yield { type: 'dropped', from: message.dropped.from ?? 0, to: message.dropped.to ?? 0 };
          } else if (message.restart !== undefined) {
            yield { type: 'restart', from: message.restart.from ?? 0, after: lastSeq };
          } else if (message.end !== undefined) {
            return;
          }
        }
      } catch (err) {
        if (options.signal?.aborted === true) throw new LogServiceError('LOGSVC_ABORTED', 'the tail was aborted', { cause: options.signal.reason });
        const failure = idleExpired
          ? new LogServiceError(
              'LOGSVC_NETWORK',
              `Tail grpc://${this.target.address}: nothing received in ${options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS} ms`,
            )
          : this.error(err, 'Tail');
        const mayPass = failure.code === 'LOGSVC_NETWORK' || failure.status === 503;
        failingSince ??= Date.now();
        // The first connection is not retried for long: a wrong address should fail fast, as over HTTP.
        if (!mayPass || Date.now() - failingSince >= (lastSeq === undefined && from === options.from ? 0 : reconnectFor)) throw failure;
        await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 200 * 2 ** Math.min(attempt, 4))));
      } finally {
        clearTimeout(idleTimer);
        options.signal?.removeEventListener('abort', abort);
        call.cancel();
      }
      // A Reconnect (the lifetime ended), or a failure that may pass: on from the last line seen.
      if (lastSeq !== undefined) {
        from = lastSeq;
        last = undefined;
      }
    }
  }

  /** Half-closes the Push call (the server answers the last acks, then OK). */
  endPush(): void {
    this.pushCall?.call.end();
    this.pushCall = undefined;
  }

  close_(): void {
    this.endPush();
    this.client.close();
  }
}

function addressing(address: Address): { accountId?: string; key: string } {
  if ('accountID' in address) return { accountId: address.accountID, key: address.key };
  return { key: [address.project, address.build, address.stage, address.step].join('/') };
}

function lineMessage(line: LineInput): object {
  const message: Record<string, unknown> = { out: line.out };
  if (line.level !== undefined) message.level = line.level;
  if (line.time !== undefined) message.time = line.time;
  if (line.pos !== undefined) message.pos = line.pos;
  if (line.args !== undefined) message.args = Object.fromEntries(Object.entries(line.args).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  return message;
}
