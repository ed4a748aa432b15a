// Where `--console` writes (docs/SCRIBE.md §3). process.stdout is the wrong
// tool for a server: on Linux it writes pipes and terminals synchronously, so
// a reader that stops (`| less`, a full pipe) would freeze the event loop.
// A pipe or socket gets a non-blocking net.Socket over the same fd (libuv
// waits for room instead of blocking or failing with EAGAIN), a file gets
// fs writes on the thread pool, and a terminal gets Node's tty stream, whose
// writes are small and a terminal drains them.
import { createWriteStream, fstatSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { isatty, WriteStream as TtyWriteStream } from 'node:tty';

export function openConsoleOutput(fd = 1): Writable {
  // Unref'd: the console must not keep a stopped server alive (shutdown gives it a moment to drain).
  if (isatty(fd)) return new TtyWriteStream(fd).unref();
  const stats = fstatSync(fd);
  if (stats.isFIFO() || stats.isSocket()) return new Socket({ fd, readable: false, writable: true }).unref();
  return createWriteStream('', { fd, autoClose: false });
}
