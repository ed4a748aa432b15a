// Follows one stream for one viewer: history first, then live lines, then the
// terminal event (DESIGN §6). The viewer's cursor only advances when its socket
// has taken the previous batch, so a slow viewer never holds more than one
// batch and never slows anyone else; if it falls behind the retained history
// it is told with a `dropped` event.
import type { StreamCursor } from '../stream/log-stream.ts';
import type { SseWriter, TerminalStyle } from './sse-writer.ts';

export interface TailOptions {
  terminal: TerminalStyle;
  pingIntervalMs: number;
  /** After this long the response ends without a terminal event: the viewer reconnects with Last-Event-ID. */
  maxLifetimeMs: number;
  /** Resolves when the server is stopping. */
  shutdown: AbortSignal;
}

const BATCH_LINES = 2000;
const BATCH_BYTES = 256 * 1024;

export type TailOutcome = 'ended' | 'viewer-left' | 'lifetime' | 'shutdown' | 'failed';

export async function followStream(cursor: StreamCursor, sse: SseWriter, options: TailOptions): Promise<TailOutcome> {
  const deadline = Date.now() + options.maxLifetimeMs;
  try {
    for (;;) {
      if (sse.isClosed) return 'viewer-left';
      const batch = await cursor.read(BATCH_LINES, BATCH_BYTES);
      if (batch.dropped) await sse.dropped(batch.dropped.from, batch.dropped.to);
      if (batch.lines.length === 1) await sse.write(batch.lines[0]!.event);
      else if (batch.lines.length > 1) await sse.write(Buffer.concat(batch.lines.map((l) => l.event)));
      if (batch.end) {
        await sse.terminal(options.terminal);
        return 'ended';
      }
      if (batch.lines.length > 0) continue;
      if (options.shutdown.aborted) {
        sse.end();
        return 'shutdown';
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        await sse.write(': reconnect: connection lifetime reached, resume with Last-Event-ID\n\n');
        sse.end();
        return 'lifetime';
      }
      const timeout = AbortSignal.timeout(Math.min(options.pingIntervalMs, left));
      await cursor.waitForMore(AbortSignal.any([sse.signal, timeout, options.shutdown]));
      if (timeout.aborted && !sse.isClosed) await sse.ping();
    }
  } catch {
    // The backend failed mid-tail (e.g. Redis went away): end without a
    // terminal event so the viewer reconnects and resumes by id.
    sse.end();
    return 'failed';
  } finally {
    cursor.release();
  }
}
