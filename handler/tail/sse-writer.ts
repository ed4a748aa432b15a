// A tail as Server-Sent Events (WHATWG HTML §9.2; docs/PROTOCOL.md, "Tailing"):
// every line is an event whose id is its seq, so a viewer resumes with
// Last-Event-ID. Trimmed lines are reported as `event: dropped`, a reset
// stream as `event: restart`, and the end as each route family expects it.
import { eventPieces } from '../../stream/line-codec.ts';
import type { DroppedRange, StoredLine } from '../../stream/log-stream.ts';
import type { TailWriter } from './follow.ts';
import type { TailSink } from './sink.ts';

export type TerminalStyle = 'ci' | 'harness';

const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache',
  'X-Accel-Buffering': 'no',
  Connection: 'keep-alive',
} as const;

/** The client's reconnection delay (§9.2.6 "retry"). */
const RETRY_MS = 3000;

/** What a response must offer to start an event stream (ServerResponse does). */
interface EventStreamHead {
  writeHead(status: number, headers: Record<string, string>): unknown;
  flushHeaders?(): void;
}

export class SseWriter implements TailWriter {
  constructor(
    private readonly sink: TailSink,
    private readonly style: TerminalStyle,
  ) {}

  get closed(): boolean {
    return this.sink.closed;
  }

  /** The 200 and the first bytes: the retry delay and a comment, which clients ignore. */
  start(head: EventStreamHead): void {
    head.writeHead(200, { ...SSE_HEADERS });
    // Sent on its own, the head is written as the very string node:http built it as (a rope of ~25
    // pieces), which flattens it; glued to the first chunk instead, the rope is kept for the
    // response's life: ~0.5 KB more for every idle tail (docs/ARCHITECTURE.md, "An idle tail's memory").
    head.flushHeaders?.();
    void this.sink.write(`retry: ${RETRY_MS}\n: ping\n\n`);
  }

  /** Events already framed (a snapshot blob's rows). */
  events(text: string): Promise<void> {
    return this.sink.write(text);
  }

  // Lines pushed together share one buffer: each run of the batch is one view, no copy (eventPieces).
  lines(lines: readonly StoredLine[]): Promise<void> {
    return this.sink.writePieces(eventPieces(lines));
  }

  async dropped(range: DroppedRange): Promise<'continue'> {
    await this.sink.write(`event: dropped\ndata: {"from":${range.from},"to":${range.to}}\n\n`);
    return 'continue';
  }

  /**
   * The key holds a newer stream (opened again, seq from 0) and the lines that
   * follow are its: the viewer's Last-Event-ID was past the end, or the stream
   * was opened again while the viewer followed it.
   * Said explicitly, so a client can tell this from a server that replays lines
   * it already sent. EventSource ignores event types nobody listens for.
   */
  async restart(from: number): Promise<'continue'> {
    await this.sink.write(`event: restart\ndata: {"from":${from}}\n\n`);
    return 'continue';
  }

  ping(): Promise<void> {
    return this.sink.write(': ping\n\n');
  }

  /** The end of the stream as each route family's viewers expect it: `eof` on CI routes, Harness's `error`/`eof`. */
  async terminal(): Promise<void> {
    await this.sink.write(this.style === 'ci' ? 'event: eof\ndata: eof\n\n' : 'event: error\ndata: eof\n\n');
    this.sink.end();
  }

  async lifetime(): Promise<void> {
    await this.sink.write(': reconnect: connection lifetime reached, resume with Last-Event-ID\n\n');
    this.sink.end();
  }

  end(): void {
    this.sink.end();
  }

  fail(): void {
    this.sink.end();
  }
}
