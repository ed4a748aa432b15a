// One live stream (DESIGN §5, §6): open, push, close, info, tail.
import type { GrpcStreams } from './grpc-streams.ts';
import type { HttpTransport } from './http-transport.ts';
import { LogServiceError, PushError } from './log-service-error.ts';
import { PushSender, type BatchTarget } from './push-sender.ts';
import { DEFAULT_SPOOL_LIMITS, PushSpool } from './push-spool.ts';
import { keyOf, routeFor } from './routes.ts';
import { tailStream } from './sse-tail.ts';
import { TextLineSplitter, splitText } from './text-line-splitter.ts';
import type { Address, CloseOptions, LineInput, OpenOptions, PushOptions, PushResult, PushSource, StreamInfo, TailEvent, TailOptions } from './types.ts';

export class StreamHandle {
  /** The key the service stores this stream under. */
  readonly key: string;

  constructor(
    private readonly transport: HttpTransport,
    readonly address: Address,
    private readonly listStreams: (signal?: AbortSignal) => Promise<Map<string, StreamInfo>>,
    /** Set for a grpc:// or grpcs:// server: open, push, close and tail go over gRPC (grpc-streams.ts). */
    private readonly grpc?: () => Promise<GrpcStreams>,
  ) {
    this.key = keyOf(address);
  }

  private url(query: Record<string, string | undefined> = {}): URL {
    const route = routeFor(this.address, 'stream');
    return this.transport.url(route.path, { ...route.query, ...query });
  }

  /** Opens the stream (opening an open stream is a no-op). `ttlSeconds`: idle expiry. */
  async open(options: number | OpenOptions = {}): Promise<void> {
    const opts = typeof options === 'number' ? { ttlSeconds: options } : options;
    if (this.grpc !== undefined) {
      const grpc = await this.grpc();
      await grpc.open(this.address, opts.ttlSeconds, undefined, opts.signal);
      return;
    }
    const query = opts.ttlSeconds === undefined ? {} : { timeout_seconds: String(opts.ttlSeconds) };
    await this.transport.status({ method: 'POST', url: this.url(query), idempotent: true, signal: opts.signal, timeoutMs: opts.timeoutMs });
  }

  /**
   * Pushes lines, batching as it goes (see BatchLimits): a whole log piped in
   * is sent in few requests, a slow producer's lines still appear within
   * `intervalMs`. The source is read as fast as it produces into a buffer
   * (memory, then a temporary file: PushOptions.buffer), so a producer is not
   * held up while the service is unreachable; a failure that may pass is
   * retried for `retryForMs`, each batch with its X-Push-Id so none is stored
   * twice. Resolves when every line was accepted; rejects with a PushError.
   */
  async push(source: PushSource | LineInput, options: PushOptions = {}): Promise<PushResult> {
    const limits = { ...DEFAULT_BATCH_LIMITS, ...definedOnly(options.batch ?? {}) };
    const spool = new PushSpool({ ...DEFAULT_SPOOL_LIMITS, ...definedOnly(options.buffer ?? {}) });
    const reopen = options.reopen ?? true;
    const reopenTtl = typeof reopen === 'object' && reopen.ttlSeconds !== undefined ? { timeout_seconds: String(reopen.ttlSeconds) } : {};
    const sender = new PushSender(this.transport, {
      url: this.url(),
      openUrl: this.url(reopenTtl),
      reopen: reopen !== false,
      retryForMs: options.retryForMs ?? this.transport.config.pushRetryForMs,
      signal: options.signal,
      timeoutMs: options.timeoutMs,
      onEvent: options.onEvent,
      pendingLines: () => spool.pendingLines,
      batches: this.grpc === undefined ? undefined : grpcBatches(this.grpc, this.address, reopen),
    });
    // Reading stops as soon as sending failed (or the caller aborted), even while the source is quiet.
    const stop = new AbortController();
    const readSignal = options.signal === undefined ? stop.signal : AbortSignal.any([options.signal, stop.signal]);
    const stopped = new Promise<void>((resolve) => readSignal.addEventListener('abort', () => resolve(), { once: true }));
    let inFlight = 0;
    /** Lines given up while the service was failing and the buffer was full, and the failure then. */
    let dropped = 0;
    let dropCause: LogServiceError | undefined;
    /** Lines made after reading stopped (the rest of the chunk in hand). */
    let unsent = 0;
    const sending = (async () => {
      for (;;) {
        const batch = await spool.nextBatch(limits);
        if (batch === undefined) return;
        inFlight = batch.lines;
        await sender.deliver(batch.body, batch.lines);
        inFlight = 0;
      }
    })();
    sending.catch(() => stop.abort());

    /** Spools one line; a promise only when it has to wait for room (the common case costs no await). */
    const add = (line: LineInput): Promise<void> | undefined => {
      if (readSignal.aborted) {
        unsent++;
        return undefined;
      }
      const record = JSON.stringify(line);
      return spool.add(record) ? undefined : addWhenRoom(record);
    };
    const addWhenRoom = async (record: string): Promise<void> => {
      do {
        if (sender.failing) {
          // The service is down and the buffer is full: the producer is never held up, the line is lost (and counted).
          if (dropped++ === 0) options.onEvent?.({ type: 'buffer-full', maxBytes: spool.capacity });
          dropCause ??= sender.lastFailure;
          return;
        }
        // The service is up, just slower than the producer: wait for room.
        await Promise.race([spool.changed(), stopped]);
        if (readSignal.aborted) {
          unsent++;
          return;
        }
      } while (!spool.add(record));
    };
    const textLine = (out: string): LineInput => (options.level === undefined ? { out } : { level: options.level, out });
    const splitter = new TextLineSplitter();
    let readError: { error: unknown } | undefined;
    try {
      if (typeof source === 'string') {
        for (const out of splitText(source)) await add(textLine(out));
      } else if (isLineInput(source)) {
        await add(source);
      } else if (isArray(source)) {
        for (const item of source) {
          if (typeof item !== 'string') await add(item);
          // Cut like text: a line over the server's limit becomes several lines, so no byte is lost.
          else for (const out of splitText(item.endsWith('\n') ? item : `${item}\n`)) await add(textLine(out));
        }
      } else {
        for await (const item of untilAborted(source, readSignal)) {
          if (typeof item === 'string' || item instanceof Uint8Array) {
            for (const out of splitter.push(item)) {
              const waiting = add(textLine(out));
              if (waiting !== undefined) await waiting;
            }
          } else {
            // An object ends any text line in progress first, so order is kept.
            for (const out of splitter.end()) await add(textLine(out));
            await add(item);
          }
        }
        if (!readSignal.aborted) for (const out of splitter.end()) await add(textLine(out));
      }
    } catch (error) {
      readError = { error };
    }
    const counts = () => ({
      accepted: sender.acceptedLines,
      undelivered: spool.pendingLines + inFlight + dropped + spool.lost + unsent + (splitter.hasPartialLine ? 1 : 0),
      retriedForMs: sender.retriedForMs,
    });
    try {
      if (options.signal?.aborted) {
        await spool.close();
        await sending.catch(() => undefined);
        throw new LogServiceError('LOGSVC_ABORTED', `push to ${this.key}: aborted`, { cause: options.signal.reason });
      }
      // A source that failed still has what it gave delivered first.
      spool.end();
      try {
        await sending;
      } catch (err) {
        if (!(err instanceof LogServiceError)) throw err;
        const message = sender.retriedForMs > 0 ? `gave up after ${formatMs(sender.retriedForMs)} of failures: ${err.message}` : err.message;
        throw PushError.from(err, message, counts());
      }
      if (readError !== undefined) throw readError.error;
      const lost = dropped + spool.lost;
      if (lost > 0) {
        const why =
          dropCause === undefined
            ? 'its temporary file could not be written'
            : `the buffer (${formatBytes(spool.capacity)}) was full while the service was failing (${dropCause.message})`;
        throw new PushError('LOGSVC_INCOMPLETE', `push to ${this.key}: ${lost} lines were lost: ${why}`, { cause: dropCause }, counts());
      }
      return { lines: sender.acceptedLines, requests: sender.requests };
    } finally {
      stop.abort();
      await spool.close();
      // The gRPC Push call stays open between batches; it ends with the push (an open call keeps the process alive).
      if (this.grpc !== undefined) (await this.grpc().catch(() => undefined))?.endPush();
    }
  }

  /** Closes the stream; `snapshot` first writes it to the blob store under the same key. */
  async close(options: CloseOptions = {}): Promise<void> {
    if (this.grpc !== undefined) {
      await (await this.grpc()).close(this.address, options.snapshot === true);
      return;
    }
    const query = options.snapshot === true ? { snapshot: 'true' } : {};
    await this.transport.status({
      method: 'DELETE',
      url: this.url(query),
      idempotent: true,
      acceptOnRetry: [404],
      signal: options.signal,
      timeoutMs: options.timeoutMs,
    });
  }

  /** Size, subscribers and TTL of this stream, or undefined when it is not open. */
  async info(options: { signal?: AbortSignal } = {}): Promise<StreamInfo | undefined> {
    return (await this.listStreams(options.signal)).get(this.key);
  }

  /**
   * Follows the stream: retained history first, then live lines, until the
   * terminal event. Reconnects by itself after network errors, resuming after
   * the last line seen. Stop early with `break` or the AbortSignal.
   */
  tail(options: TailOptions = {}): AsyncIterable<TailEvent> {
    if (this.grpc !== undefined) return grpcTail(this.grpc, this.address, options);
    return tailStream(this.transport, this.url(), options);
  }
}

/** A push's batches on the gRPC Push call; a reopen is Open with the push's ttl. */
function grpcBatches(grpc: () => Promise<GrpcStreams>, address: Address, reopen: PushOptions['reopen']): BatchTarget {
  const ttl = typeof reopen === 'object' ? reopen.ttlSeconds : undefined;
  return {
    send: async (body, pushId, retryDelay, signal) => {
      const streams = await grpc();
      await streams.retried(() => streams.sendBatch(address, body, pushId), retryDelay, signal);
    },
    open: async (retryDelay, signal) => (await grpc()).open(address, ttl, retryDelay, signal),
  };
}

async function* grpcTail(grpc: () => Promise<GrpcStreams>, address: Address, options: TailOptions): AsyncGenerator<TailEvent> {
  yield* (await grpc()).tail(address, options);
}

/** When a push sends a batch: at 1000 lines, 256 KiB, or when its first line has waited 100 ms. */
const DEFAULT_BATCH_LIMITS = { maxLines: 1000, maxBytes: 256 * 1024, intervalMs: 100 };

/** `options` without its undefined members (so they do not override the defaults they are spread over). */
function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}

function formatMs(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${+(bytes / 1024 ** 3).toFixed(1)} GiB` : `${+(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

function isLineInput(value: unknown): value is LineInput {
  return typeof value === 'object' && value !== null && typeof (value as { out?: unknown }).out === 'string';
}

function isArray(value: unknown): value is readonly (string | LineInput)[] {
  return Array.isArray(value);
}

/**
 * Iterates `source` until `signal` aborts, even while the source is quiet (a
 * build that prints nothing for a minute): the pending read is abandoned and
 * the source's iterator is told to stop.
 */
async function* untilAborted<T>(source: AsyncIterable<T> | Iterable<T>, signal: AbortSignal | undefined): AsyncGenerator<T> {
  const iterator =
    Symbol.asyncIterator in source
      ? (source as AsyncIterable<T>)[Symbol.asyncIterator]()
      : (async function* () {
          yield* source as Iterable<T>;
        })();
  const aborted = new Promise<IteratorResult<T>>((resolve) => {
    if (signal === undefined) return;
    if (signal.aborted) resolve({ done: true, value: undefined });
    else signal.addEventListener('abort', () => resolve({ done: true, value: undefined }), { once: true });
  });
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), aborted]);
      if (next.done === true || signal?.aborted === true) return;
      yield next.value;
    }
  } finally {
    void iterator.return?.()?.catch?.(() => undefined);
  }
}
