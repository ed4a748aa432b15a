// The live tail of a step (docs/VIEWER.md §2): the SSE route read with fetch
// and eventsource-parser, not EventSource, so the token goes in an
// Authorization header (never in a URL) and a whole read's events are taken
// in one go. A cut connection is resumed with Last-Event-ID after the last
// line taken: the server continues right after it (docs/PROTOCOL.md §6.3), and
// the model drops any replay, so the page shows no duplicate and no gap.
import { createParser } from 'eventsource-parser';
import { authHeaders, AuthError } from './api.ts';
import type { TailLine } from './log-model.ts';

export type TailState = 'connecting' | 'live' | 'reconnecting' | 'finished' | 'not-found' | 'auth' | 'error';

export interface TailHandlers {
  lines(lines: TailLine[]): void;
  dropped(from: number, to: number): void;
  /** A reopened stream (`event: restart`): the page starts over. */
  restart(): void;
  state(state: TailState, detail?: string): void;
  /** The server refused the token (401) or its scope (403). */
  refused(err: AuthError): void;
  /** The seq to resume after, -1 for none. */
  lastSeq(): number;
}

/** Reconnect delays: 0.5 s doubling to 5 s. */
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 5000;

export class LogTail {
  private readonly stop = new AbortController();
  private retryMs = RETRY_MIN_MS;

  constructor(
    private readonly url: string,
    private readonly handlers: TailHandlers,
  ) {}

  start(): void {
    void this.run();
  }

  close(): void {
    this.stop.abort();
  }

  private async run(): Promise<void> {
    let first = true;
    while (!this.stop.signal.aborted) {
      this.handlers.state(first ? 'connecting' : 'reconnecting');
      first = false;
      let ended: 'eof' | 'cut';
      try {
        ended = await this.once();
      } catch (err) {
        if (this.stop.signal.aborted) return;
        if (err instanceof AuthError) {
          this.handlers.state('auth', err.message);
          this.handlers.refused(err);
          return;
        }
        if (err instanceof NotFound) {
          this.handlers.state('not-found', err.message);
          return;
        }
        ended = 'cut';
      }
      if (ended === 'eof') {
        this.handlers.state('finished');
        return;
      }
      this.handlers.state('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, this.retryMs));
      this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    }
  }

  /** One connection: 'eof' when the log ended, 'cut' when the connection did first. */
  private async once(): Promise<'eof' | 'cut'> {
    const headers: Record<string, string> = { Accept: 'text/event-stream', ...authHeaders() };
    const last = this.handlers.lastSeq();
    if (last >= 0) headers['Last-Event-ID'] = String(last);
    const res = await fetch(this.url, { headers, signal: this.stop.signal, cache: 'no-store' });
    if (res.status === 401 || res.status === 403) throw new AuthError(res.status, await errorMessage(res));
    if (res.status === 404) throw new NotFound(await errorMessage(res));
    if (!res.ok || res.body === null) throw new Error(`HTTP ${res.status}`);
    let eof = false;
    let batch: TailLine[] = [];
    const parser = createParser({
      onEvent: (event) => {
        if (event.event === undefined || event.event === 'message') {
          const line = JSON.parse(event.data) as TailLine;
          line.seq = Number(event.id);
          batch.push(line);
        } else if (event.event === 'dropped') {
          flush();
          const range = JSON.parse(event.data) as { from: number; to: number };
          this.handlers.dropped(range.from, range.to);
        } else if (event.event === 'restart') {
          batch = [];
          this.handlers.restart();
        } else if (event.event === 'eof' || (event.event === 'error' && event.data === 'eof')) {
          eof = true;
        }
      },
    });
    const flush = () => {
      if (batch.length === 0) return;
      this.handlers.lines(batch);
      batch = [];
    };
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    this.handlers.state('live');
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.feed(value);
        flush();
        this.retryMs = RETRY_MIN_MS;
        if (eof) break;
      }
    } catch {
      // the connection was cut: resumed by the caller
    } finally {
      flush();
      reader.cancel().catch(() => undefined);
    }
    return eof ? 'eof' : 'cut';
  }
}

class NotFound extends Error {}

async function errorMessage(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { error_msg?: string; message?: string };
    return body.error_msg ?? body.message ?? `HTTP ${res.status}`;
  } catch {
    return `HTTP ${res.status}`;
  }
}
