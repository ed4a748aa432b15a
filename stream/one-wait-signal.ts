// A WaitSignal for one wait at a time (stream/log-stream.ts): one listener
// slot instead of an AbortSignal's EventTarget, for signals that are reused
// by every wait of a long-lived follower (a tail's WaitInterrupt, the archive
// writer's WriterWait). `fire` ends the current wait; the subclass decides
// when `aborted` goes back to false for the next one.
import type { WaitSignal } from './log-stream.ts';

export class OneWaitSignal implements WaitSignal {
  aborted = false;
  private listener: (() => void) | undefined;

  addEventListener(_type: 'abort', listener: () => void): void {
    this.listener = listener;
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    if (this.listener === listener) this.listener = undefined;
  }

  /** Aborted: the waiting listener, if any, is called once and forgotten. */
  protected fire(): void {
    this.aborted = true;
    const listener = this.listener;
    this.listener = undefined;
    listener?.();
  }
}
