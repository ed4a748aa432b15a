// The archive writer's wait for more lines (archiver.ts): ended by more lines
// (the cursor's own wake), by the writer's halt or finish, or by a due time
// (the chunk being filled is old enough, the lease is due for renewal).
// A WaitSignal of its own rather than AbortSignal.any over a fresh
// AbortSignal.timeout per wait: a busy stream's writer waits after every
// push, and those signals, their listeners and timers were about 2 % of the
// server's time under ingest (BENCHMARKS.md, "ingest").
import type { WaitSignal } from '../stream/log-stream.ts';
import { OneWaitSignal } from '../stream/one-wait-signal.ts';

export class WriterWait extends OneWaitSignal {
  /** Halted or finished: this wait and every later one end at once. */
  private ended = false;
  private timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (performance.now(): monotonic, as timers are). */
  private timerAt = 0;
  private readonly due = (): void => {
    this.timer = undefined;
    this.fire();
  };

  /**
   * The signal for the next wait, which ends `dueMs` from now at the latest.
   * One timer serves many waits: a timer already armed for no later than
   * that is kept (a wait it ends early just finds nothing new and waits
   * again), so a stream pushed to many times a second arms about one timer
   * per chunk, not one per push.
   */
  begin(dueMs: number): WaitSignal {
    this.aborted = this.ended;
    if (this.ended) return this;
    const dueAt = performance.now() + dueMs;
    if (this.timer === undefined || this.timerAt > dueAt) {
      clearTimeout(this.timer);
      this.timer = setTimeout(this.due, dueMs).unref();
      this.timerAt = dueAt;
    }
    return this;
  }

  /** Halt or finish: ends the current wait and every later one. */
  end(): void {
    this.ended = true;
    clearTimeout(this.timer);
    this.fire();
  }
}
