// Lingering close (what web servers do after an early answer; nginx calls it
// lingering_close): an error answered while the request body is still arriving
// — 413 for a push over the limit, 401/403/415 decided from the headers — must
// reach the client. Closing the socket at once makes the client's next write
// fail (EPIPE/ECONNRESET) before it reads the answer, and a Go or fetch client
// then reports a transport error instead of the status. So the rest of the
// body is read and discarded, for a bounded time and size, and only a client
// that goes past either bound is cut off.
import type { IncomingMessage } from 'node:http';

/** The longest a refused body is read and discarded. */
const LINGER_MS = 5_000;
/** The most bytes of a refused body read and discarded. */
const LINGER_MAX_BYTES = 64 * 1024 * 1024;

/** True when part of the body has not been read yet. */
export function bodyStillArriving(req: IncomingMessage): boolean {
  return !req.complete && !req.destroyed;
}

/**
 * Discards the rest of `req`'s body. Resolves when it has ended, or when it
 * passed LINGER_MS or LINGER_MAX_BYTES; then `onLimit` is called (cut the
 * connection: the client is still sending more than anyone will read).
 */
export function discardBody(req: IncomingMessage, onLimit: () => void): Promise<void> {
  return new Promise<void>((resolve) => {
    let discarded = 0;
    const done = (overLimit: boolean) => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onEnd);
      resolve();
      if (overLimit) onLimit();
    };
    const onData = (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > LINGER_MAX_BYTES) done(true);
    };
    const onEnd = () => done(false);
    const timer = setTimeout(() => done(true), LINGER_MS);
    timer.unref();
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('close', onEnd);
    req.resume();
  });
}
