// Waiting for a tail's socket to take more bytes ('drain'), bounded in time.
// A viewer that stops reading keeps one batch plus its socket buffer (the
// cursor waits), but it must not keep them, and its slot of the per-account
// tail limit, forever: after `stallMs` without a drain the connection is
// dropped. A viewer that was only slow reconnects and resumes by id / offset.
import type { ServerResponse } from 'node:http';

/** How long a tail's socket may take no bytes at all before it is dropped (capped by the tail lifetime). */
export const TAIL_STALL_MS = 60_000;

/** Resolves when `res` drains (or the viewer left); destroys `res` when it has not drained within `stallMs`. */
export function waitForDrain(res: ServerResponse, signal: AbortSignal, stallMs: number): Promise<void> {
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
