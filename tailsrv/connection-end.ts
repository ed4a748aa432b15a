// How a tailsrv connection ends (docs/TAILSRV.md §2). Connections are
// half-open capable (a client may close its sending side right after the
// header, as `echo … | nc -N` does), so the server closes its side itself:
// it ends the stream, and once every byte it wrote has reached the kernel it
// closes the socket, which sends them and the FIN (the header reader discards
// what the client still sends, so nothing unread turns the close into a reset).
import type { Duplex } from 'node:stream';

/** `error: <reason>\n`; `afterData` puts it on a line of its own when the data sent so far did not end with a newline. */
export function errorLine(reason: string, afterData = false): string {
  return `${afterData ? '\n' : ''}error: ${reason.replace(/[\r\n]+/g, ' ')}\n`;
}

/** Ends the connection after `last` (if any) and what is already queued. Never throws: the client may have gone. */
export function endConnection(socket: Duplex, last?: string): void {
  if (socket.destroyed) return;
  if (!socket.writableEnded) socket.end(last ?? '');
  if (socket.writableFinished) socket.destroy();
  else socket.once('finish', () => socket.destroy());
}

/** The one error line of a refused request, then the close (multi-file form). */
export function refuse(socket: Duplex, reason: string): void {
  endConnection(socket, errorLine(reason));
}
