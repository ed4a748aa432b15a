// Reading the header lines of a tailsrv connection, bounded (docs/TAILSRV.md §4):
// each line is at most HEADER_MAX_BYTES including its newline, and the whole
// header (the optional `auth` line and the request) must arrive within
// HEADER_TIMEOUT_MS, so a client that trickles bytes (slowloris) or never
// sends a newline holds its socket for a bounded time and a bounded buffer.
// A line split across TCP segments is joined; bytes after the last line read
// are ignored (read and discarded, so the client never blocks on them).
import type { Duplex } from 'node:stream';
import { HeaderError } from './header-grammar.ts';

/** The longest header line, newline included. */
export const HEADER_MAX_BYTES = 4096;
/** How long the whole header may take to arrive. */
export const HEADER_TIMEOUT_MS = 10_000;

export interface HeaderLimits {
  maxBytes: number;
  timeoutMs: number;
}

export const HEADER_LIMITS: HeaderLimits = { maxBytes: HEADER_MAX_BYTES, timeoutMs: HEADER_TIMEOUT_MS };

const NEWLINE = 0x0a;

export class HeaderReader {
  private buffered: Buffer = Buffer.alloc(0);
  private failure: HeaderError | undefined;
  private waiting: { resolve: (line: string) => void; reject: (err: HeaderError) => void } | undefined;
  private readonly timer: NodeJS.Timeout;
  private finished = false;

  constructor(
    private readonly socket: Duplex,
    private readonly limits: HeaderLimits = HEADER_LIMITS,
  ) {
    this.timer = setTimeout(() => this.fail(`no complete header within ${limits.timeoutMs / 1000} s`), limits.timeoutMs);
    socket.on('data', this.onData);
    socket.once('end', this.onEnd);
    socket.once('close', this.onEnd);
    socket.pause();
  }

  /** The next line, without its newline. Rejects with a HeaderError (too long, too late, connection closed). */
  nextLine(): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.deliver();
      if (this.waiting !== undefined) this.socket.resume();
    });
  }

  /** The header is read: stop the clock, and read and discard whatever else the client sends. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.buffered = Buffer.alloc(0);
    // The bytes after the header are ignored: discarded as they come.
    this.socket.on('data', discard);
    this.socket.resume();
  }

  private readonly onData = (chunk: Buffer): void => {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    this.deliver();
  };

  private readonly onEnd = (): void => {
    this.fail('the connection ended before the header line was complete');
  };

  private deliver(): void {
    const waiting = this.waiting;
    if (waiting === undefined) return;
    if (this.failure !== undefined) {
      this.waiting = undefined;
      waiting.reject(this.failure);
      return;
    }
    const newline = this.buffered.indexOf(NEWLINE);
    if (newline !== -1 && newline < this.limits.maxBytes) {
      const line = this.buffered.subarray(0, newline).toString('utf8');
      this.buffered = this.buffered.subarray(newline + 1);
      this.waiting = undefined;
      // Nothing is read between lines: what is not asked for stays in the kernel.
      this.socket.pause();
      waiting.resolve(line);
      return;
    }
    if (this.buffered.length >= this.limits.maxBytes) this.fail(`header line longer than ${this.limits.maxBytes} bytes`);
  }

  private fail(reason: string): void {
    if (this.finished || this.failure !== undefined) return;
    this.failure = new HeaderError(reason);
    clearTimeout(this.timer);
    this.deliver();
  }
}

function discard(): void {}
