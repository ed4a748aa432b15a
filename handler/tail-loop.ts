// Follows one stream for one viewer: history first, then live lines, then the
// terminal event (DESIGN §6). The viewer's cursor only advances when its socket
// has taken the previous batch, so a slow viewer never holds more than one
// batch and never slows anyone else; if it falls behind the retained history
// it is told with a `dropped` event.
import { joinEvents } from '../stream/line-codec.ts';
import type { StreamCursor } from '../stream/log-stream.ts';
import type { SseWriter, TerminalStyle } from './sse-writer.ts';

export interface TailOptions {
  terminal: TerminalStyle;
  pingIntervalMs: number;
  /** After this long the response ends without a terminal event: the viewer reconnects with Last-Event-ID. */
  maxLifetimeMs: number;
  /** Resolves when the server is stopping. */
  shutdown: AbortSignal;
}

const BATCH_LINES = 2000;
const BATCH_BYTES = 256 * 1024;

export type TailOutcome = 'ended' | 'viewer-left' | 'lifetime' | 'shutdown' | 'failed';

/**
 * What interrupts a wait for new lines: the viewer leaving, the server
 * stopping, or the idle timer (ping / lifetime). One per tail, not one per
 * wait: a busy stream wakes each viewer many times a second, and a fresh
 * AbortSignal.timeout + AbortSignal.any per wake cost a timer and a composite
 * signal each. The single timer is only re-armed when it fires.
 */
/**
 * Tails waiting on the server's shutdown signal. One listener per signal,
 * not one per tail: thousands of listeners on one AbortSignal cost a linear
 * removal each and trip Node's MaxListenersExceeded warning.
 */
const shutdownWaiters = new WeakMap<AbortSignal, Set<() => void>>();

function onShutdown(signal: AbortSignal, wake: () => void): void {
  let waiters = shutdownWaiters.get(signal);
  if (waiters === undefined) {
    const set = new Set<() => void>();
    waiters = set;
    shutdownWaiters.set(signal, set);
    signal.addEventListener('abort', () => { for (const w of [...set]) w(); }, { once: true });
  }
  waiters.add(wake);
}

function offShutdown(signal: AbortSignal, wake: () => void): void {
  shutdownWaiters.get(signal)?.delete(wake);
}

class WaitInterrupt {
  private controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  /** When the current wait started (undefined: not waiting). */
  private waitingSince: number | undefined;
  /** Set when the timer interrupted the current wait. */
  timedOut = false;
  private readonly abort = () => this.controller.abort();

  constructor(
    private readonly viewerLeft: AbortSignal, private readonly shutdown: AbortSignal,
    private readonly pingIntervalMs: number, private readonly deadline: number,
  ) {
    viewerLeft.addEventListener('abort', this.abort, { once: true });
    onShutdown(shutdown, this.abort);
  }

  /** The signal for the next wait (already aborted when the viewer left or the server stops); starts the idle clock. */
  begin(): AbortSignal {
    if (this.timedOut) {
      this.timedOut = false;
      this.controller = new AbortController();
    }
    if (this.viewerLeft.aborted || this.shutdown.aborted) this.controller.abort();
    this.waitingSince = Date.now();
    if (this.timer === undefined) this.arm(Math.min(this.pingIntervalMs, this.deadline - this.waitingSince));
    return this.controller.signal;
  }

  end(): void {
    this.waitingSince = undefined;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.fire(), Math.max(1, ms));
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    if (this.waitingSince === undefined) return; // busy: the next wait re-arms
    const now = Date.now();
    const due = Math.min(this.waitingSince + this.pingIntervalMs, this.deadline);
    if (now >= due) {
      this.timedOut = true;
      this.controller.abort();
      return;
    }
    this.arm(due - now);
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.viewerLeft.removeEventListener('abort', this.abort);
    offShutdown(this.shutdown, this.abort);
  }
}

export async function followStream(cursor: StreamCursor, sse: SseWriter, options: TailOptions): Promise<TailOutcome> {
  const deadline = Date.now() + options.maxLifetimeMs;
  const interrupt = new WaitInterrupt(sse.signal, options.shutdown, options.pingIntervalMs, deadline);
  try {
    for (;;) {
      if (sse.isClosed) return 'viewer-left';
      const batch = await cursor.read(BATCH_LINES, BATCH_BYTES);
      if (batch.dropped) await sse.dropped(batch.dropped.from, batch.dropped.to);
      // Lines pushed together share one buffer: joinEvents sends them as one view, no copy.
      if (batch.lines.length > 0) await sse.write(joinEvents(batch.lines));
      if (batch.end) {
        await sse.terminal(options.terminal);
        return 'ended';
      }
      // Checked on busy streams too: a tail that always has lines still reconnects in time.
      if (Date.now() >= deadline) {
        await sse.write(': reconnect: connection lifetime reached, resume with Last-Event-ID\n\n');
        sse.end();
        return 'lifetime';
      }
      if (batch.lines.length > 0) continue;
      if (options.shutdown.aborted) {
        sse.end();
        return 'shutdown';
      }
      await cursor.waitForMore(interrupt.begin());
      interrupt.end();
      if (interrupt.timedOut && !sse.isClosed) await sse.ping();
    }
  } catch {
    // The backend failed mid-tail (e.g. Redis went away): end without a
    // terminal event so the viewer reconnects and resumes by id.
    sse.end();
    return 'failed';
  } finally {
    interrupt.dispose();
    cursor.release();
  }
}
