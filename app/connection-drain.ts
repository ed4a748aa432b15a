// Kept-alive connections during a graceful shutdown (docs/OPERATIONS.md §2). Once the
// server stops, no connection it already has may take a new request: a reconnecting
// viewer (EventSource, the CLI, a load balancer's client) must land on another instance,
// and an answer from this one (503 "shutting down") would make a browser's EventSource
// give up for good. So on stop:
//  * idle kept-alive connections are closed at once;
//  * a response not started yet goes out with `Connection: close` (node closes after it);
//  * a response already started (a tail) has its connection closed once it ends;
//  * a request that arrives on an old connection anyway (it crossed our close on the wire)
//    is not answered: its connection is closed, which HTTP clients treat as "retry on a
//    new connection" (browsers and EventSource do; nothing of it was processed).
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from 'pino';

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

export class ConnectionDrain {
  private readonly inFlight = new Set<ServerResponse>();
  private draining = false;

  constructor(private readonly log: Logger) {}

  /** The request listener, counting responses in flight and refusing new requests once draining. */
  wrap(listener: Listener): Listener {
    return (req, res) => {
      if (this.draining) {
        this.log.debug({ method: req.method }, 'request on an old connection during shutdown: closed unanswered');
        req.socket.destroy();
        return;
      }
      this.inFlight.add(res);
      res.once('close', () => this.inFlight.delete(res));
      listener(req, res);
    };
  }

  /** Call when the server stops listening: closes idle connections and marks the rest to close after their response. */
  begin(server: Server): void {
    this.draining = true;
    server.closeIdleConnections();
    for (const res of this.inFlight) closeAfter(res);
  }
}

function closeAfter(res: ServerResponse): void {
  if (!res.headersSent) {
    // Node then sends `Connection: close` and closes the connection after the response;
    // handler/error-response.ts reads it too (a refused body is drained before the answer).
    res.shouldKeepAlive = false;
    return;
  }
  const socket = res.socket;
  if (socket === null) return;
  if (res.writableFinished) socket.end();
  else res.once('finish', () => socket.end());
}
