// The one follow loop of every live tail (docs/ARCHITECTURE.md, "The tail
// pipeline"): history first, then live lines, then the end — whatever the
// viewer reads. The cursor only advances when the writer has taken the
// previous batch (its sink has drained), so a slow viewer never holds more
// than one batch and never slows anyone else. What the lines become on the
// wire (SSE events, raw bytes, …) is the writer's business.
import type { DroppedRange, StoredLine, StreamCursor } from '../../stream/log-stream.ts';
import { TAIL_BATCH_BYTES, TAIL_BATCH_LINES } from './batch.ts';
import type { TailSession } from './session.ts';

/** Turns a stream's batches into one kind of viewer's bytes. */
export interface TailWriter {
  /** The viewer left or the writer ended. */
  readonly closed: boolean;
  /** Consecutive lines, in seq order. */
  lines(lines: StoredLine[]): Promise<void>;
  /** The stream was opened again: what follows is the new stream from seq `from`. Report it, or 'stop' here. */
  restart(from: number): Promise<'continue' | 'stop'>;
  /** Lines the viewer needed were trimmed away: report them, or 'stop' here (the viewer resumes and sees the gap). */
  dropped(range: DroppedRange): Promise<'continue' | 'stop'>;
  /** Everything there is has been read; the loop now waits for more. Optional: it costs an await per wake-up. */
  caughtUp?(): Promise<void>;
  /** The stream ended: the terminal event, then the end. */
  terminal(): Promise<void>;
  /** The connection's lifetime ended: tell the viewer to reconnect, then end. */
  lifetime(): Promise<void>;
  /** Nothing happened for a ping interval. */
  ping(): Promise<void>;
  /** Ends without a terminal event (the server stops, a gap): the viewer reconnects and resumes. */
  end(): void;
  /** The backend failed mid-tail. */
  fail(): void;
}

export type TailOutcome = 'ended' | 'viewer-left' | 'lifetime' | 'shutdown' | 'gap' | 'restart' | 'failed';

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
    signal.addEventListener(
      'abort',
      () => {
        for (const w of [...set]) w();
      },
      { once: true },
    );
  }
  waiters.add(wake);
}

function offShutdown(signal: AbortSignal, wake: () => void): void {
  shutdownWaiters.get(signal)?.delete(wake);
}

/**
 * What interrupts a wait for new lines: the viewer leaving, the server
 * stopping, or the idle timer (ping / lifetime). One per tail, not one per
 * wait: a busy stream wakes each viewer many times a second, and a fresh
 * AbortSignal.timeout + AbortSignal.any per wake cost a timer and a composite
 * signal each. The single timer is only re-armed when it fires.
 */
class WaitInterrupt {
  private controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  /** When the current wait started (undefined: not waiting). */
  private waitingSince: number | undefined;
  /** Set when the timer interrupted the current wait. */
  timedOut = false;
  private readonly abort = () => this.controller.abort();

  constructor(
    private readonly viewerLeft: AbortSignal,
    private readonly shutdown: AbortSignal,
    private readonly pingIntervalMs: number,
    private readonly deadline: number,
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

/** Follows `cursor` into `writer` until the stream ends, the viewer leaves, the lifetime ends or the server stops. */
export async function followStream(cursor: StreamCursor, writer: TailWriter, session: TailSession): Promise<TailOutcome> {
  const interrupt = new WaitInterrupt(session.viewerLeft, session.shutdown, session.pingIntervalMs, session.deadline);
  try {
    for (;;) {
      if (writer.closed) return 'viewer-left';
      const batch = await cursor.read(TAIL_BATCH_LINES, TAIL_BATCH_BYTES);
      if (batch.restart !== undefined && (await writer.restart(batch.restart)) === 'stop') {
        writer.end();
        return 'restart';
      }
      if (batch.dropped && (await writer.dropped(batch.dropped)) === 'stop') {
        writer.end();
        return 'gap';
      }
      if (batch.lines.length > 0) await writer.lines(batch.lines);
      if (batch.end) {
        await writer.terminal();
        return 'ended';
      }
      // Checked on busy streams too: a tail that always has lines still reconnects in time.
      if (session.expired) {
        await writer.lifetime();
        return 'lifetime';
      }
      if (batch.lines.length > 0) continue;
      if (writer.caughtUp !== undefined) await writer.caughtUp();
      if (session.shutdown.aborted) {
        writer.end();
        return 'shutdown';
      }
      await cursor.waitForMore(interrupt.begin());
      interrupt.end();
      if (interrupt.timedOut && !writer.closed) await writer.ping();
    }
  } catch {
    // The backend failed mid-tail (e.g. Redis went away): end without a
    // terminal event so the viewer reconnects and resumes by id or offset.
    writer.fail();
    return 'failed';
  } finally {
    interrupt.dispose();
    cursor.release();
  }
}
