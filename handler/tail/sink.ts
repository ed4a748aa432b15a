// Where a tail's bytes go: an HTTP response today, a TCP socket or a gRPC
// call next. Every write respects backpressure: when the connection is full
// the tail waits for 'drain' (bounded by the stall window, drain-wait.ts)
// before it reads more, so a slow viewer never slows the producer or anyone
// else, and never holds more than one batch.
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import type { WaitSignal } from '../../stream/log-stream.ts';
import { waitForDrain, type StallClock } from './drain-wait.ts';

const WRITTEN = Promise.resolve();

export interface TailSink {
  /** Aborted when the viewer left. */
  readonly signal: WaitSignal;
  /** The viewer left or the sink was ended. */
  readonly closed: boolean;
  /** Writes bytes; resolves once the connection can take more (or the viewer left). */
  write(data: Buffer | string): Promise<void>;
  /** Writes the pieces in order as one write (one system call); resolves as `write` does. */
  writePieces(pieces: readonly Buffer[]): Promise<void>;
  /** Ends the connection cleanly. */
  end(): void;
  /** Cuts the connection (the viewer sees an incomplete body and resumes). */
  destroy(): void;
  /** Cuts the connection after the bytes written so far reach the viewer (a reader that cannot resume must get them). */
  cut?(): void;
}

/** A sink over any Node writable: a ServerResponse, a net.Socket. */
export class WritableSink implements TailSink {
  // No listener of its own on `signal`: it is read when asked (an idle tail holds less).
  constructor(
    private readonly out: Writable,
    readonly signal: WaitSignal,
    private readonly stall: StallClock,
  ) {}

  get closed(): boolean {
    return this.signal.aborted || this.out.destroyed || this.out.writableEnded;
  }

  // Not async: a write the socket takes at once (most of them) returns the one resolved promise, no new one.
  write(data: Buffer | string): Promise<void> {
    if (data.length === 0 || this.closed) return WRITTEN;
    if (this.out.write(data)) return WRITTEN;
    return waitForDrain(this.out, this.signal, this.stall.stallMs());
  }

  writePieces(pieces: readonly Buffer[]): Promise<void> {
    if (pieces.length === 1) return this.write(pieces[0]!);
    if (this.closed) return WRITTEN;
    // The socket is corked, not the response: the pieces leave in one writev when it is uncorked, and each
    // write's answer is the socket's. A corked response (Node 22) buffers in itself, answers by its own
    // buffer alone and never says 'drain' for bytes the socket took at once.
    const socket = (this.out as { socket?: Socket | null }).socket ?? this.out;
    let taken = true;
    socket.cork();
    for (const piece of pieces) if (piece.length > 0) taken = this.out.write(piece);
    socket.uncork();
    return taken ? WRITTEN : waitForDrain(this.out, this.signal, this.stall.stallMs());
  }

  end(): void {
    if (!this.out.writableEnded) this.out.end();
  }

  destroy(): void {
    this.out.destroy();
  }

  cut(): void {
    // A response's socket is ended (its buffered bytes go first, then FIN) without the response's own end:
    // no chunked terminator, no full Content-Length. A reader that stops reading is cut for good after the stall window.
    const socket = (this.out as { socket?: Socket | null }).socket ?? undefined;
    if (socket === undefined || socket.destroyed) {
      this.out.destroy();
      return;
    }
    socket.end();
    const timer = setTimeout(() => socket.destroy(), this.stall.stallMs());
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }
}
