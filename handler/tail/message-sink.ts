// Where a tail's messages go when the connection carries messages rather than
// bytes: a gRPC server stream (an object-mode Node writable). The rule of the
// byte sink (sink.ts), held tighter: an object-mode writable only reports
// backpressure past 16 messages (16 batches here), so each write waits until
// the transport took the message (its write callback) instead of waiting for
// 'drain'. A viewer that stops reading thus holds one batch plus what HTTP/2
// flow control lets through; the wait is bounded by the stall window
// (drain-wait.ts), after which the call is destroyed and the slot freed.
import type { Writable } from 'node:stream';
import type { WaitSignal } from '../../stream/log-stream.ts';
import type { StallClock } from './drain-wait.ts';

export class MessageSink<T> {
  // As WritableSink (sink.ts): the signal is read when asked, the stall window asked of the session.
  constructor(
    private readonly out: Writable,
    readonly signal: WaitSignal,
    private readonly stall: StallClock,
  ) {}

  /** The viewer left, or the call was ended or destroyed. */
  get closed(): boolean {
    return this.signal.aborted || this.out.destroyed || this.out.writableEnded;
  }

  /** Writes one message; resolves once the transport took it (or the viewer left, or the stall window passed). */
  write(message: T): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.out.destroy();
        done();
      }, this.stall.stallMs());
      timer.unref();
      this.signal.addEventListener('abort', done, { once: true });
      this.out.write(message, done);
    });
  }
}
