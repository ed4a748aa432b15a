// Server-Sent Events on a raw response (DESIGN §6, WHATWG HTML §9.2). Writes
// respect backpressure: when the socket is full we wait for 'drain' before
// reading more, so a slow viewer costs at most one batch plus the socket buffer.
import type { ServerResponse } from 'node:http';
import { waitForDrain } from './drain-wait.ts';

export type TerminalStyle = 'ci' | 'harness';

export const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache',
  'X-Accel-Buffering': 'no',
  Connection: 'keep-alive',
} as const;

export class SseWriter {
  private closed = false;

  /** `stallMs`: how long the next wait for a drain may last before the socket is dropped (see drain-wait.ts). */
  constructor(private readonly res: ServerResponse, readonly signal: AbortSignal, private readonly stallMs: () => number) {
    signal.addEventListener('abort', () => { this.closed = true; }, { once: true });
  }

  get isClosed(): boolean {
    return this.closed || this.res.destroyed || this.res.writableEnded;
  }

  start(retryMs: number, headers: Record<string, string> = {}): void {
    this.res.writeHead(200, { ...SSE_HEADERS, ...headers });
    // §9.2.6: "retry" sets the reconnection time; a comment line is ignored by clients.
    this.res.write(`retry: ${retryMs}\n: ping\n\n`);
  }

  /** Writes bytes; resolves once the socket can take more (or the viewer left). */
  async write(data: Buffer | string): Promise<void> {
    if (this.isClosed) return;
    if (this.res.write(data)) return;
    await waitForDrain(this.res, this.signal, this.stallMs());
  }

  ping(): Promise<void> {
    return this.write(': ping\n\n');
  }

  /**
   * The viewer's Last-Event-ID is past the end: the key holds a newer stream
   * (closed and reopened, seq from 0 again) and the lines that follow are its.
   * Said explicitly, so a client can tell this from a server that replays lines
   * it already sent. EventSource ignores event types nobody listens for.
   */
  restart(from: number): Promise<void> {
    return this.write(`event: restart\ndata: {"from":${from}}\n\n`);
  }

  dropped(from: number, to: number): Promise<void> {
    return this.write(`event: dropped\ndata: {"from":${from},"to":${to}}\n\n`);
  }

  /** The end of the stream as each route family's viewers expect it (DESIGN §6). */
  async terminal(style: TerminalStyle): Promise<void> {
    await this.write(style === 'ci' ? 'event: eof\ndata: eof\n\n' : 'event: error\ndata: eof\n\n');
    this.end();
  }

  end(): void {
    if (!this.res.writableEnded) this.res.end();
  }
}
