// The two answers most routes end with. Errors have their own renderer
// (error-response.ts).
import type { ServerResponse } from 'node:http';
import { atTurnEnd } from '../foundation/turn-end.ts';

/**
 * A 204, written with the others of this turn of the event loop once its I/O
 * callbacks have run (foundation/turn-end.ts: before the viewers the pushes
 * woke), not as each request finishes. A producer pushing on several
 * connections (a runner, a pool, a proxy) then gets its answers in one
 * wake-up instead of one each, and sends its next pushes together: under the
 * ingest load, writing each 204 at once was a fifth of the event loop, most of
 * it the kernel waking the producer for every answer (BENCHMARKS.md, "ingest:
 * chunks written off the event loop, answers written together"). Nothing is
 * held: the request is done; only its answer waits, at most one turn.
 */
export function noContent(res: ServerResponse): void {
  if (due.length === 0) atTurnEnd('answers', writeDue);
  due.push(res);
}

/** 204s to write at the end of this turn. */
const due: ServerResponse[] = [];

function writeDue(): void {
  for (let i = 0; i < due.length; i++) {
    const res = due[i]!;
    // Answered meanwhile (a connection closed, a shutdown ending it): nothing to write.
    if (res.headersSent || res.writableEnded || res.destroyed) continue;
    res.writeHead(204);
    res.end();
  }
  due.length = 0;
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(body);
}
