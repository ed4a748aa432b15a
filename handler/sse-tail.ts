// GET …/stream: a tail as Server-Sent Events (docs/PROTOCOL.md, "Tailing").
// A live stream is followed by the follow loop; a finished one is served from
// its snapshot blob with the same events; nothing at all is a 404 on CI
// routes and an immediate end on Harness routes (after `event: restart` when
// the viewer was resuming: what it had is gone).
import { ServiceError } from '../foundation/errors.ts';
import { internalName } from './keys.ts';
import type { RouteCall } from './route-call.ts';
import { followStream } from './tail/follow.ts';
import { TailSession } from './tail/session.ts';
import { snapshotToSse } from './tail/snapshot-tail.ts';
import { SnapshotReader } from './tail/snapshot.ts';
import { SseWriter, type TerminalStyle } from './tail/sse-writer.ts';
import { cursorStart } from './tail-start.ts';

export async function sseTail(call: RouteCall, style: TerminalStyle): Promise<void> {
  const { ctx, req, res, account, key } = call;
  const start = cursorStart(req.headers['last-event-id'], call.query);
  const name = internalName(account, key);
  const session = TailSession.forHttp(ctx, account, req, res);
  const sse = new SseWriter(session.sink(res), style);
  try {
    const cursor = await ctx.stream.cursor(name, start);
    if (cursor !== null) {
      sse.start(res);
      // A cursor asked to start after seq N that starts at or before N was reset to a newer stream.
      if (start.kind === 'after' && cursor.position <= start.seq) await sse.restart(cursor.position);
      const outcome = await followStream(cursor, sse, session);
      ctx.log.debug({ name, outcome }, 'tail finished');
      return;
    }
    const meta = await ctx.store.head(name);
    if (meta !== null) {
      sse.start(res);
      const open = async () => (await ctx.store.get(name))?.body ?? null;
      const snapshot = new SnapshotReader({ contentType: meta.contentType, created: meta.created, open }, ctx.config.stream.maxLineBytes);
      await snapshotToSse(snapshot, start, sse);
      return;
    }
    if (style === 'ci') throw new ServiceError('LOGSVC_STREAM_NOT_FOUND', `no stream or log for "${key}"`);
    sse.start(res);
    // A viewer resuming (Last-Event-ID) a stream that is gone without a log —
    // the server or Redis restarted without keeping it — lost the lines after
    // its id: said as a restart, not passed off as a normal end of the log.
    if (start.kind === 'after') await sse.restart(0);
    await sse.terminal();
  } finally {
    session.close();
  }
}
