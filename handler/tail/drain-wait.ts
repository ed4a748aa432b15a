// Waiting for a tail's socket to take more bytes ('drain'), bounded in time.
// A viewer that stops reading keeps one batch plus its socket buffer (the
// cursor waits), but it must not keep them, and its slot of the per-account
// tail limit, forever. 'drain' only fires once the whole batch (up to
// 256 KiB) has gone, so a slow but steady reader can go a long time without
// one: the wait therefore lasts until the tail's connection lifetime ends,
// when the viewer is told to reconnect anyway, and at least TAIL_STALL_MS
// (or the whole lifetime, when that is shorter). Then the connection is
// dropped, and the viewer reconnects and resumes by id / offset.
import type { Writable } from 'node:stream';
import type { WaitSignal } from '../../stream/log-stream.ts';

/** The shortest wait for a drain, unless the tail lifetime itself is shorter. */
export const TAIL_STALL_MS = 60_000;

/** How long a wait for a drain may last, from now: to the lifetime's end, at least min(TAIL_STALL_MS, lifetime). */
export function stallMsNow(deadline: number, lifetimeMs: number): number {
  return Math.max(deadline - Date.now(), Math.min(TAIL_STALL_MS, lifetimeMs));
}

/** Says how long a wait for a drain may last from now: a tail session (stallMsNow of its lifetime). */
export interface StallClock {
  stallMs(): number;
}

/** Resolves when `res` drains (or the viewer left); destroys `res` when it has not drained within `stallMs`. */
export function waitForDrain(res: Writable, signal: WaitSignal, stallMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      res.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(() => {
      res.destroy();
      done();
    }, stallMs);
    timer.unref();
    res.on('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}
