// One viewer's tail, whatever it reads and however it is written: its slot in
// the per-account tail limit, its connection lifetime (after which it is told
// to reconnect and resume), its stall window, and the signals that end it —
// the viewer leaving, the server stopping. Every tail surface (SSE, raw, and
// the next: TCP, gRPC, livelog) opens one and closes it when done.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';
import type { WaitSignal } from '../../stream/log-stream.ts';
import type { HandlerContext } from '../context.ts';
import type { TailCounter } from '../tail-counter.ts';
import { stallMsNow, type StallClock } from './drain-wait.ts';
import { LeaveSignal } from './leave-signal.ts';
import { MessageSink } from './message-sink.ts';
import { WritableSink, type TailSink } from './sink.ts';

export interface TailSessionOptions {
  /** Where the tail's slot was taken (TailCounter.acquire), and for which account: given back on close. */
  slots: TailCounter;
  account: string;
  viewerLeft: WaitSignal;
  shutdown: AbortSignal;
  lifetimeMs: number;
  pingIntervalMs: number;
}

export class TailSession implements StallClock {
  /** When the connection's lifetime ends (epoch ms). */
  readonly deadline: number;
  readonly lifetimeMs: number;
  readonly pingIntervalMs: number;
  readonly viewerLeft: WaitSignal;
  readonly shutdown: AbortSignal;
  private readonly slots: TailCounter;
  private readonly account: string;
  private released = false;

  constructor(options: TailSessionOptions) {
    this.lifetimeMs = options.lifetimeMs;
    this.deadline = Date.now() + options.lifetimeMs;
    this.pingIntervalMs = options.pingIntervalMs;
    this.viewerLeft = options.viewerLeft;
    this.shutdown = options.shutdown;
    this.slots = options.slots;
    this.account = options.account;
  }

  /** A tail on an HTTP response. Throws 429 LOGSVC_TOO_MANY_TAILS when the account has no slot left. */
  static forHttp(ctx: HandlerContext, account: string, req: IncomingMessage, res: ServerResponse): TailSession {
    ctx.tails.acquire(account);
    // Tails are long-lived and quiet between pings: no idle timeout on their socket.
    req.socket.setTimeout(0);
    const viewerLeft = new LeaveSignal();
    res.on('close', viewerLeft.abort);
    return new TailSession({
      slots: ctx.tails,
      account,
      viewerLeft,
      shutdown: ctx.shutdown,
      lifetimeMs: ctx.config.limits.tailMaxSeconds * 1000,
      pingIntervalMs: ctx.config.limits.pingIntervalSeconds * 1000,
    });
  }

  /**
   * A tail on a call that is not an HTTP response (a gRPC server stream): the
   * caller says when the viewer left. Throws LOGSVC_TOO_MANY_TAILS like forHttp.
   */
  static forCall(ctx: HandlerContext, account: string, viewerLeft: WaitSignal): TailSession {
    ctx.tails.acquire(account);
    return new TailSession({
      slots: ctx.tails,
      account,
      viewerLeft,
      shutdown: ctx.shutdown,
      lifetimeMs: ctx.config.limits.tailMaxSeconds * 1000,
      pingIntervalMs: ctx.config.limits.pingIntervalSeconds * 1000,
    });
  }

  /** A sink of messages on an object-mode `out` (a gRPC call), with the same stall window as `sink`. */
  messageSink<T>(out: Writable): MessageSink<T> {
    return new MessageSink<T>(out, this.viewerLeft, this);
  }

  /** A sink on `out` that waits for drains at most until the lifetime ends (at least TAIL_STALL_MS). */
  sink(out: Writable): TailSink {
    return new WritableSink(out, this.viewerLeft, this);
  }

  /** How long a wait for a drain may last from now (drain-wait.ts). */
  stallMs(): number {
    return stallMsNow(this.deadline, this.lifetimeMs);
  }

  get expired(): boolean {
    return Date.now() >= this.deadline;
  }

  /** Gives the slot back. Idempotent. */
  close(): void {
    if (this.released) return;
    this.released = true;
    this.slots.release(this.account);
  }
}
