// The one follow loop of every live tail (docs/ARCHITECTURE.md, "The tail
// pipeline"): history first, then live lines, then the end — whatever the
// viewer reads. The cursor only advances when the writer has taken the
// previous batch (its sink has drained), so a slow viewer never holds more
// than one batch and never slows anyone else. What the lines become on the
// wire (SSE events, raw bytes, …) is the writer's business.
import type { DroppedRange, ReadBatch, StoredLine, StreamCursor, WaitSignal } from '../../stream/log-stream.ts';
import { OneWaitSignal } from '../../stream/one-wait-signal.ts';
import { TAIL_BATCH_BYTES, TAIL_BATCH_LINES } from './batch.ts';
import type { TailSession } from './session.ts';

/** Turns a stream's batches into one kind of viewer's bytes. */
export interface TailWriter {
  /** The viewer left or the writer ended. */
  readonly closed: boolean;
  /** Consecutive lines, in seq order. */
  lines(lines: readonly StoredLine[]): Promise<void>;
  /** The stream was opened again: what follows is the new stream from seq `from`. Report it, or 'stop' here. */
  restart(from: number): Promise<'continue' | 'stop'>;
  /** Lines the viewer needed were trimmed away: report them, or 'stop' here (the viewer resumes and sees the gap). */
  dropped(range: DroppedRange): Promise<'continue' | 'stop'>;
  /**
   * Everything there is has been read; the loop now waits for more. Optional: it costs an await per wake-up.
   * `generation`: the cursor's stream (StreamCursor.generation), which a stream opened again under the name is not.
   */
  caughtUp?(generation: number): Promise<void>;
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

/** Batches a tail sends in a row before it lets the event loop turn. */
const CATCH_UP_STREAK = 2;

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Tails whose wait is due to end (a ping or the lifetime's end) at about the
 * same time share one timer: one per DUE_SLOT_MS of due times, not one per
 * tail, since thousands of idle tails would each hold a Timeout and its
 * closure (docs/ARCHITECTURE.md, "An idle tail's memory"). A ping is at most
 * one slot late.
 */
const DUE_SLOT_MS = 25;

interface DueSlot {
  readonly tails: Set<WaitInterrupt>;
  readonly timer: NodeJS.Timeout;
}
const dueSlots = new Map<number, DueSlot>();

function dueAt(at: number, tail: WaitInterrupt): number {
  const at25 = Math.ceil(at / DUE_SLOT_MS) * DUE_SLOT_MS;
  let slot = dueSlots.get(at25);
  if (slot === undefined) {
    const tails = new Set<WaitInterrupt>();
    const timer = setTimeout(
      () => {
        dueSlots.delete(at25);
        for (const t of tails) t.due();
      },
      Math.max(1, at25 - Date.now()),
    );
    timer.unref();
    slot = { tails, timer };
    dueSlots.set(at25, slot);
  }
  slot.tails.add(tail);
  return at25;
}

/** Takes `tail` out of its slot; the slot's timer goes with its last tail (viewers come and go under long ping intervals). */
function notDue(at25: number, tail: WaitInterrupt): void {
  const slot = dueSlots.get(at25);
  if (slot === undefined) return;
  slot.tails.delete(tail);
  if (slot.tails.size > 0) return;
  clearTimeout(slot.timer);
  dueSlots.delete(at25);
}

/**
 * What interrupts a wait for new lines: the viewer leaving, the server
 * stopping, or the idle clock (ping / lifetime). One per tail, reused by
 * every wait: a busy stream wakes each viewer many times a second. It is the
 * wait's signal itself (a WaitSignal, not an AbortController: one listener
 * slot, since one wait at a time listens), and it is re-armed only when its
 * slot comes due.
 */
class WaitInterrupt extends OneWaitSignal {
  /** Set when the idle clock interrupted the current wait. */
  timedOut = false;
  /** The due slot this tail is in (undefined: none). */
  private slot: number | undefined;
  /** When the current wait started (undefined: not waiting). */
  private waitingSince: number | undefined;
  private readonly interrupt = () => this.fire();

  constructor(
    private readonly viewerLeft: WaitSignal,
    private readonly shutdown: AbortSignal,
    private readonly pingIntervalMs: number,
    private readonly deadline: number,
  ) {
    super();
    viewerLeft.addEventListener('abort', this.interrupt, { once: true });
    onShutdown(shutdown, this.interrupt);
  }

  /** The signal for the next wait (already aborted when the viewer left or the server stops); starts the idle clock. */
  begin(): WaitSignal {
    this.timedOut = false;
    this.aborted = this.viewerLeft.aborted || this.shutdown.aborted;
    this.waitingSince = Date.now();
    if (this.slot === undefined) this.slot = dueAt(Math.min(this.waitingSince + this.pingIntervalMs, this.deadline), this);
    return this;
  }

  end(): void {
    this.waitingSince = undefined;
  }

  /** Its slot came due: interrupt the wait if it has lasted a ping interval (or reached the deadline), else wait on. */
  due(): void {
    this.slot = undefined;
    if (this.waitingSince === undefined) return; // busy: the next wait re-arms
    const due = Math.min(this.waitingSince + this.pingIntervalMs, this.deadline);
    if (Date.now() >= due) {
      this.timedOut = true;
      this.fire();
      return;
    }
    this.slot = dueAt(due, this);
  }

  dispose(): void {
    if (this.slot !== undefined) notDue(this.slot, this);
    this.slot = undefined;
    this.viewerLeft.removeEventListener('abort', this.interrupt);
    offShutdown(this.shutdown, this.interrupt);
  }
}

/**
 * Follows `cursor` into `writer` until the stream ends, the viewer leaves, the
 * lifetime ends or the server stops; then releases the cursor and closes the
 * session (its tail slot). Callers return this promise rather than await it:
 * an idle tail then holds this loop's few locals only, not its handler's
 * request state (docs/ARCHITECTURE.md, "An idle tail's memory").
 * `resumedAfter`: the seq a viewer asked to resume after (Last-Event-ID); a
 * cursor that starts at or before it was reset to a newer stream, which the
 * writer reports first.
 */
export async function followStream(cursor: StreamCursor, writer: TailWriter, session: TailSession, resumedAfter?: number): Promise<TailOutcome> {
  const interrupt = new WaitInterrupt(session.viewerLeft, session.shutdown, session.pingIntervalMs, session.deadline);
  try {
    if (resumedAfter !== undefined && cursor.position <= resumedAfter && (await writer.restart(cursor.position)) === 'stop') {
      writer.end();
      return 'restart';
    }
    // Outside the loop so that it can be let go before a wait: an idle tail would keep its last batch.
    let batch: ReadBatch | undefined;
    /** Batches read since the last wait. */
    let streak = 0;
    for (;;) {
      if (writer.closed) return 'viewer-left';
      batch = await cursor.read(TAIL_BATCH_LINES, TAIL_BATCH_BYTES);
      if (batch.restart !== undefined && (await writer.restart(batch.restart)) === 'stop') {
        writer.end();
        return 'restart';
      }
      if (batch.dropped && (await writer.dropped(batch.dropped)) === 'stop') {
        writer.end();
        return 'gap';
      }
      if (batch.lines.length > 0) {
        await writer.lines(batch.lines);
        // A tail catching up batch after batch (its socket takes each at once) would hold the thread
        // for all of them: every few batches it lets the next turn of the event loop come first.
        if (++streak % CATCH_UP_STREAK === 0) await nextTurn();
      }
      if (batch.end) {
        await writer.terminal();
        return 'ended';
      }
      // Checked on busy streams too: a tail that always has lines still reconnects in time.
      if (session.expired) {
        await writer.lifetime();
        return 'lifetime';
      }
      // More to read now: on. At the head (the backend says so) the loop waits, which returns at once if more came.
      if (batch.lines.length > 0 && batch.atHead !== true) continue;
      batch = undefined;
      if (writer.caughtUp !== undefined) await writer.caughtUp(cursor.generation);
      if (session.shutdown.aborted) {
        writer.end();
        return 'shutdown';
      }
      // A writer that ended itself (a byte range's end, a refusal on a socket) does not wait for the next push.
      if (writer.closed) return 'viewer-left';
      streak = 0;
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
    session.close();
  }
}
