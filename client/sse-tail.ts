// Tailing a stream over SSE (DESIGN §6) as an AsyncIterable of events that
// survives network errors: after a broken connection it reconnects with
// `Last-Event-ID: <last seq seen>` (WHATWG HTML §9.2.4, what EventSource does),
// so the server continues right after that line — no duplicate, no gap. It
// ends at the terminal event: `event: eof` (CI routes) or `event: error` with
// `data: eof` (Harness routes).
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { asClientError, type HttpTransport } from './http-transport.ts';
import { errorBodyFields, LogServiceError } from './log-service-error.ts';
import { backoffDelay, isRetryableStatus, sleep } from './retry-policy.ts';
import type { LogLine, TailEvent, TailOptions } from './types.ts';

export const DEFAULT_IDLE_TIMEOUT_MS = 45_000;
const DEFAULT_RECONNECT_FOR_MS = 60_000;
const MIN_RECONNECT_DELAY_MS = 100;

type Parsed = TailEvent | { type: 'end' };

export async function* tailStream(transport: HttpTransport, url: URL, options: TailOptions = {}): AsyncGenerator<TailEvent, void, undefined> {
  /** The last seq delivered (or the caller's resume point): what Last-Event-ID carries. */
  const cursor: { lastSeq: number | undefined } = { lastSeq: options.from };
  let reconnectDelay = transport.config.retryDelayMs;
  let failingSince: number | undefined;
  let failures = 0;
  let connectedOnce = false;
  const reconnectFor = options.reconnectForMs ?? DEFAULT_RECONNECT_FOR_MS;

  for (;;) {
    const attemptUrl = new URL(url.href);
    const headers: Record<string, string> = { accept: 'text/event-stream', 'cache-control': 'no-cache' };
    if (cursor.lastSeq !== undefined) headers['last-event-id'] = String(cursor.lastSeq);
    else if (options.tail !== undefined) attemptUrl.searchParams.set('tail', String(options.tail));

    let live;
    try {
      live = await transport.send({
        method: 'GET',
        url: attemptUrl,
        headers,
        idempotent: true,
        retries: 0,
        signal: options.signal,
        timeoutMs: options.timeoutMs,
      });
    } catch (err) {
      if (!(err instanceof LogServiceError) || !isTransient(err)) throw err;
      // A server that was never reached is probably the wrong address: fail as fast as any call.
      // Once the tail has worked, it keeps trying for reconnectForMs (a restart, a network blip).
      if (!connectedOnce && failures >= transport.config.retries) throw err;
      failingSince ??= Date.now();
      if (Date.now() - failingSince >= reconnectFor) throw err;
      await sleep(backoffDelay(failures++, Math.max(reconnectDelay, MIN_RECONNECT_DELAY_MS)), options.signal);
      continue;
    }
    connectedOnce = true;
    const { response, deadline, method } = live;
    const body = response.body;
    if (body === null) {
      deadline.dispose();
      throw new LogServiceError('LOGSVC_BAD_RESPONSE', `${method} ${live.url}: no body`, { status: response.status });
    }
    const type = response.headers.get('content-type') ?? '';
    if (!type.toLowerCase().startsWith('text/event-stream')) {
      // A proxy's login page or an HTML error served with 200 is not a tail: say so instead of reconnecting forever.
      deadline.dispose();
      void body.cancel().catch(() => undefined);
      throw new LogServiceError('LOGSVC_BAD_RESPONSE', `${method} ${live.url}: expected text/event-stream, got "${type || 'no Content-Type'}"`, {
        status: response.status,
      });
    }
    const reader = body.getReader();
    const decoder = new TextDecoder();
    const queue: Parsed[] = [];
    let comments = 0;
    const parser = createParser({
      onEvent: (message) => queue.push(...toEvents(message, cursor, live.url)),
      onRetry: (ms) => {
        reconnectDelay = ms;
      },
      // Every response opens with one ": ping"; a later comment (an idle ping, the
      // lifetime ": reconnect") proves the server kept this connection up, so a
      // quiet stream that is cut at its lifetime never counts as failing.
      onComment: () => {
        if (++comments < 2) return;
        failingSince = undefined;
        failures = 0;
      },
    });
    // From here on the idle timer decides when the connection is dead: the server
    // pings when idle (every 15 s by default), so silence means a broken path.
    deadline.pause();
    const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    let idleTimer: NodeJS.Timeout | undefined;
    let idleExpired = false;
    const armIdle = (): void => {
      if (idleTimer !== undefined) clearTimeout(idleTimer);
      idleTimer = setTimeout(() => {
        idleExpired = true;
        void reader.cancel().catch(() => undefined);
      }, idleMs);
    };
    try {
      armIdle();
      for (;;) {
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await reader.read();
        } catch (err) {
          const failure = asClientError(err, deadline, method, live.url);
          if (failure.code === 'LOGSVC_ABORTED') throw failure;
          break; // network error: reconnect
        }
        if (chunk.done || idleExpired) break;
        armIdle();
        parser.feed(decoder.decode(chunk.value, { stream: true }));
        for (const event of queue.splice(0)) {
          if (event.type === 'end') return;
          // Progress (a line or a dropped range), not just bytes: every response starts with
          // "retry:" and a ping, so bytes alone would let a connection that keeps ending early
          // reset the give-up clock forever.
          failingSince = undefined;
          failures = 0;
          if (idleTimer !== undefined) clearTimeout(idleTimer);
          yield event; // the consumer's pace is not the server's silence: the idle timer waits
          armIdle();
        }
      }
    } finally {
      if (idleTimer !== undefined) clearTimeout(idleTimer);
      deadline.dispose();
      void reader.cancel().catch(() => undefined);
    }
    if (options.signal?.aborted) throw new LogServiceError('LOGSVC_ABORTED', `${method} ${live.url}: aborted`, { cause: options.signal.reason });
    // The connection ended without the terminal event: resume after the last line seen.
    failingSince ??= Date.now();
    if (Date.now() - failingSince >= reconnectFor) {
      throw new LogServiceError('LOGSVC_NETWORK', `${method} ${live.url}: the connection keeps ending before the stream does`, { method, url: live.url });
    }
    await sleep(backoffDelay(failures++, Math.max(reconnectDelay, MIN_RECONNECT_DELAY_MS)), options.signal);
  }
}

function isTransient(err: LogServiceError): boolean {
  return err.code === 'LOGSVC_NETWORK' || err.code === 'LOGSVC_TIMEOUT' || (err.status !== undefined && isRetryableStatus(err.status));
}

/** One SSE message → the events it stands for; advances `cursor` past them. */
function toEvents(message: EventSourceMessage, cursor: { lastSeq: number | undefined }, url: string): Parsed[] {
  const lastSeq = cursor.lastSeq;
  switch (message.event) {
    case 'eof':
      return [{ type: 'end' }];
    case 'error':
      if (message.data.trim() === 'eof') return [{ type: 'end' }];
      throw serverError(message.data, url);
    case 'restart': {
      // The key now holds a newer stream (closed and reopened, or lost by the server and opened
      // again by its producer; seq from 0 again): follow it from where the server says it starts,
      // rather than dropping its lines as already seen, and say so.
      const at = parseJson(message.data) as { from?: unknown } | undefined;
      const from = typeof at?.from === 'number' && Number.isInteger(at.from) && at.from > 0 ? at.from : 0;
      cursor.lastSeq = from > 0 ? from - 1 : undefined;
      return [{ type: 'restart', from, after: lastSeq }];
    }
    case 'dropped': {
      const range = parseJson(message.data) as { from?: unknown; to?: unknown } | undefined;
      if (typeof range?.from !== 'number' || typeof range.to !== 'number') {
        throw new LogServiceError('LOGSVC_BAD_RESPONSE', `GET ${url}: malformed dropped event: ${message.data}`);
      }
      cursor.lastSeq = Math.max(lastSeq ?? -1, range.to);
      return [{ type: 'dropped', from: range.from, to: range.to }];
    }
    case undefined:
    case 'message': {
      const seq = message.id !== undefined && /^\d+$/.test(message.id) ? Number(message.id) : undefined;
      const line = parseJson(message.data) as LogLine | undefined;
      if (seq === undefined || typeof line?.out !== 'string') {
        throw new LogServiceError('LOGSVC_BAD_RESPONSE', `GET ${url}: malformed line event (id ${message.id ?? 'missing'})`);
      }
      if (lastSeq !== undefined && seq <= lastSeq) return []; // already delivered before a reconnect
      const events: Parsed[] = [];
      // Never skip silently (DESIGN §6): a hole the server did not report is reported here.
      if (lastSeq !== undefined && seq > lastSeq + 1) events.push({ type: 'dropped', from: lastSeq + 1, to: seq - 1 });
      events.push({ type: 'line', seq, line });
      cursor.lastSeq = seq;
      return events;
    }
    default:
      return []; // unknown event types are for newer clients
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function serverError(data: string, url: string): LogServiceError {
  const body = errorBodyFields(parseJson(data));
  if (body?.code !== undefined) return new LogServiceError(body.code, body.message, { url });
  return new LogServiceError('LOGSVC_BAD_RESPONSE', `GET ${url}: the stream reported an error: ${data}`, { url });
}
