// GET …/stream: a tail as Server-Sent Events (docs/PROTOCOL.md, "Tailing").
// A live stream is followed by the follow loop; a finished one is served from
// its snapshot blob with the same events; nothing at all is a 404 on CI
// routes and an immediate end on Harness routes (after `event: restart` when
// the viewer was resuming: what it had is gone).
import { ServiceError } from '../foundation/errors.ts';
import { internalName } from './keys.ts';
import type { RouteCall } from './route-call.ts';
import type { CursorStart } from '../stream/log-stream.ts';
import { followStream, type TailOutcome } from './tail/follow.ts';
import { TailSession } from './tail/session.ts';
import { snapshotToSse } from './tail/snapshot-tail.ts';
import { SnapshotReader } from './tail/snapshot.ts';
import { SseWriter, type TerminalStyle } from './tail/sse-writer.ts';
import { cursorStart } from './tail-start.ts';

export async function sseTail(call: RouteCall, style: TerminalStyle): Promise<unknown> {
  const { ctx, req, res, account, key } = call;
  const start = cursorStart(req.headers['last-event-id'], call.query);
  const name = internalName(account, key);
  const session = TailSession.forHttp(ctx, account, req, res);
  const sse = new SseWriter(session.sink(res), style);
  let following: Promise<TailOutcome> | undefined;
  try {
    const cursor = await ctx.stream.cursor(name, start);
    if (cursor !== null) {
      sse.start(res);
      // Handed off, not awaited: the follow loop closes the session, and this frame (the request's state) ends now.
      following = followStream(cursor, sse, session, start.kind === 'after' ? start.seq : undefined);
    } else {
      await finishedOrNothing(call, name, start, sse, style);
    }
  } finally {
    if (following === undefined) session.close();
  }
  // Each link of the chain is kept by every idle tail: the outcome's log line only when it is written.
  if (following === undefined || !ctx.log.isLevelEnabled('debug')) return following;
  const log = ctx.log;
  return following.then((outcome) => log.debug({ name, outcome }, 'tail finished'));
}

/** A stream that is not open: its finished log as events, a 404 on CI routes, or an immediate end on Harness routes. */
async function finishedOrNothing(call: RouteCall, name: string, start: CursorStart, sse: SseWriter, style: TerminalStyle): Promise<void> {
  const { ctx, res, key } = call;
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
}
