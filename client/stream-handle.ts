// One live stream (DESIGN §5, §6): open, push, close, info, tail.
import type { HttpTransport } from './http-transport.ts';
import { DEFAULT_BATCH_LIMITS, LineBatcher } from './line-batcher.ts';
import { LogServiceError } from './log-service-error.ts';
import { keyOf, routeFor } from './routes.ts';
import { tailStream } from './sse-tail.ts';
import { TextLineSplitter, splitText } from './text-line-splitter.ts';
import type {
  Address, CloseOptions, LineInput, OpenOptions, PushOptions, PushResult, PushSource, StreamInfo, TailEvent, TailOptions,
} from './types.ts';

export class StreamHandle {
  /** The key the service stores this stream under. */
  readonly key: string;

  constructor(
    private readonly transport: HttpTransport,
    readonly address: Address,
    private readonly listStreams: (signal?: AbortSignal) => Promise<Map<string, StreamInfo>>,
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
    const query = opts.ttlSeconds === undefined ? {} : { timeout_seconds: String(opts.ttlSeconds) };
    await this.transport.status({ method: 'POST', url: this.url(query), idempotent: true, signal: opts.signal, timeoutMs: opts.timeoutMs });
  }

  /**
   * Pushes lines, batching as it goes (see BatchLimits): a whole log piped in
   * is sent in few requests, a slow producer's lines still appear within
   * `intervalMs`. Resolves when every line was accepted.
   */
  async push(source: PushSource | LineInput, options: PushOptions = {}): Promise<PushResult> {
    const batcher = new LineBatcher(
      (body) => this.sendBatch(body, options),
      { ...DEFAULT_BATCH_LIMITS, ...options.batch },
    );
    const textLine = (out: string): LineInput => (options.level === undefined ? { out } : { level: options.level, out });
    try {
      if (typeof source === 'string') {
        for (const out of splitText(source)) await batcher.add(textLine(out));
      } else if (isLineInput(source)) {
        await batcher.add(source);
      } else if (isArray(source)) {
        for (const item of source) {
          if (typeof item !== 'string') await batcher.add(item);
          // Cut like text: a line over the server's limit becomes several lines, so no byte is lost.
          else for (const out of splitText(item.endsWith('\n') ? item : `${item}\n`)) await batcher.add(textLine(out));
        }
      } else {
        const splitter = new TextLineSplitter();
        for await (const item of untilAborted(source, options.signal)) {
          if (typeof item === 'string' || item instanceof Uint8Array) {
            for (const out of splitter.push(item)) await batcher.add(textLine(out));
          } else {
            // An object ends any text line in progress first, so order is kept.
            for (const out of splitter.end()) await batcher.add(textLine(out));
            await batcher.add(item);
          }
        }
        for (const out of splitter.end()) await batcher.add(textLine(out));
      }
      if (options.signal?.aborted) throw new LogServiceError('LOGSVC_ABORTED', `push to ${this.key}: aborted`, { cause: options.signal.reason });
      return await batcher.finish();
    } finally {
      batcher.discard();
    }
  }

  private async sendBatch(body: Buffer, options: PushOptions): Promise<void> {
    // Not idempotent: a repeated push would store its lines twice, so it is retried only when it was never sent.
    await this.transport.status({
      method: 'PUT', url: this.url(), idempotent: false,
      headers: { 'content-type': 'application/x-ndjson' },
      body: { replayable: true, length: body.length, create: () => body },
      signal: options.signal, timeoutMs: options.timeoutMs,
    });
  }

  /** Closes the stream; `snapshot` first writes it to the blob store under the same key. */
  async close(options: CloseOptions = {}): Promise<void> {
    const query = options.snapshot === true ? { snapshot: 'true' } : {};
    await this.transport.status({
      method: 'DELETE', url: this.url(query), idempotent: true, acceptOnRetry: [404], signal: options.signal, timeoutMs: options.timeoutMs,
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
    return tailStream(this.transport, this.url(), options);
  }
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
  const iterator = Symbol.asyncIterator in source
    ? (source as AsyncIterable<T>)[Symbol.asyncIterator]()
    : (async function* () { yield* source as Iterable<T>; })();
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
