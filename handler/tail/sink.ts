// Where a tail's bytes go: an HTTP response today, a TCP socket or a gRPC
// call next. Every write respects backpressure: when the connection is full
// the tail waits for 'drain' (bounded by the stall window, drain-wait.ts)
// before it reads more, so a slow viewer never slows the producer or anyone
// else, and never holds more than one batch.
import type { Writable } from 'node:stream';
import { waitForDrain } from './drain-wait.ts';

export interface TailSink {
  /** Aborted when the viewer left. */
  readonly signal: AbortSignal;
  /** The viewer left or the sink was ended. */
  readonly closed: boolean;
  /** Writes bytes; resolves once the connection can take more (or the viewer left). */
  write(data: Buffer | string): Promise<void>;
  /** Ends the connection cleanly. */
  end(): void;
  /** Cuts the connection (the viewer sees an incomplete body and resumes). */
  destroy(): void;
}

/** A sink over any Node writable: a ServerResponse, a net.Socket. */
export class WritableSink implements TailSink {
  private left = false;

  constructor(
    private readonly out: Writable,
    readonly signal: AbortSignal,
    private readonly stallMs: () => number,
  ) {
    signal.addEventListener(
      'abort',
      () => {
        this.left = true;
      },
      { once: true },
    );
  }

  get closed(): boolean {
    return this.left || this.out.destroyed || this.out.writableEnded;
  }

  async write(data: Buffer | string): Promise<void> {
    if (data.length === 0 || this.closed) return;
    if (this.out.write(data)) return;
    await waitForDrain(this.out, this.signal, this.stallMs());
  }

  end(): void {
    if (!this.out.writableEnded) this.out.end();
  }

  destroy(): void {
    this.out.destroy();
  }
}
