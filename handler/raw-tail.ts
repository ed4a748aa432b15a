// GET …/raw?offset=N: a tail as the log's raw text by byte offset
// (docs/PROTOCOL.md, "Raw text by byte offset"). A live stream is followed by
// the follow loop; a finished one is served from its snapshot blob.
import { ServiceError } from '../foundation/errors.ts';
import { openAtOffset } from '../stream/log-stream.ts';
import { internalName } from './keys.ts';
import type { RouteCall } from './route-call.ts';
import { followStream } from './tail/follow.ts';
import { RawWriter } from './tail/raw-writer.ts';
import { TailSession } from './tail/session.ts';
import { snapshotToRaw } from './tail/snapshot-tail.ts';
import { SnapshotReader } from './tail/snapshot.ts';
import { parseOffset } from './tail-start.ts';

export async function rawTail(call: RouteCall): Promise<void> {
  const { ctx, req, res, account, key } = call;
  const offset = parseOffset(call.query.get('offset'));
  const name = internalName(account, key);
  const session = TailSession.forHttp(ctx, account, req, res);
  try {
    // Starts at the archived chunk that holds the offset, not at seq 0 (docs/ARCHIVE.md §4).
    const opened = await openAtOffset(ctx.stream, name, offset);
    if (opened !== null) {
      await followStream(opened.cursor, new RawWriter(session.sink(res), res, opened.offset), session);
      return;
    }
    const meta = await ctx.store.head(name);
    if (meta === null) throw new ServiceError('LOGSVC_STREAM_NOT_FOUND', `no stream or log for "${key}"`);
    const open = async () => (await ctx.store.get(name))?.body ?? null;
    const shared = { cache: ctx.snapshotTexts, key: `${name}\0${meta.etag}`, size: meta.size };
    const snapshot = new SnapshotReader({ contentType: meta.contentType, created: meta.created, open, shared }, ctx.config.stream.maxLineBytes);
    await snapshotToRaw(snapshot, offset, new RawWriter(session.sink(res), res, offset));
  } finally {
    session.close();
  }
}
