// Tail (proto/logservice/v1/log_streams.proto): a live stream through the
// shared follow loop, a finished one from its snapshot blob with the same
// seqs, nothing at all NOT_FOUND. The start is SSE's: from_seq is
// Last-Event-ID (after that seq), last_lines is ?tail=N.
import type { ServerWritableStream } from '@grpc/grpc-js';
import { ServiceError } from '../foundation/errors.ts';
import type { HandlerContext } from '../handler/context.ts';
import { SNAPSHOT_BATCH_CHARS, SNAPSHOT_BATCH_ROWS } from '../handler/tail/batch.ts';
import { followStream } from '../handler/tail/follow.ts';
import { LeaveSignal } from '../handler/tail/leave-signal.ts';
import { TailSession } from '../handler/tail/session.ts';
import { MAX_LAST_LINES, MAX_START_SEQ } from '../handler/tail-start.ts';
import { SnapshotReader } from '../handler/tail/snapshot.ts';
import type { CursorStart } from '../stream/log-stream.ts';
import { authorizeKey } from './call-auth.ts';
import { logLineFromJson, type LogLineMessage, type TailRequest, type TailResponse } from './messages.ts';
import { endWithError } from './status-mapping.ts';
import { GrpcTailWriter } from './tail-writer.ts';

function tailStart(request: TailRequest): CursorStart {
  const from = request.fromSeq ?? undefined;
  const last = request.lastLines ?? undefined;
  if (from !== undefined && last !== undefined) {
    throw new ServiceError('LOGSVC_INVALID_PARAM', 'set at most one of from_seq (resume after a seq) and last_lines (the last N lines)');
  }
  if (from !== undefined) {
    if (!Number.isSafeInteger(from) || from < 0 || from > MAX_START_SEQ)
      throw new ServiceError('LOGSVC_INVALID_PARAM', `from_seq must be a line seq from 0 to ${MAX_START_SEQ}`);
    return { kind: 'after', seq: from };
  }
  if (last !== undefined) {
    if (last > MAX_LAST_LINES) throw new ServiceError('LOGSVC_INVALID_PARAM', `last_lines must be at most ${MAX_LAST_LINES}`);
    return { kind: 'tail', lines: last };
  }
  return { kind: 'beginning' };
}

export async function tailCall(ctx: HandlerContext, call: ServerWritableStream<TailRequest, TailResponse>): Promise<void> {
  // The viewer left: it cancelled, its deadline passed, or its connection went.
  const left = new LeaveSignal();
  const leave = left.abort;
  call.once('cancelled', leave);
  call.once('close', leave);
  let writer: GrpcTailWriter | undefined;
  try {
    const target = authorizeKey(ctx, call.metadata, 'read', call.request.accountId, call.request.key);
    const start = tailStart(call.request);
    const session = TailSession.forCall(ctx, target.account, left);
    writer = new GrpcTailWriter(session.messageSink<TailResponse>(call), call);
    try {
      const cursor = await ctx.stream.cursor(target.name, start);
      if (cursor !== null) {
        const outcome = await followStream(cursor, writer, session, start.kind === 'after' ? start.seq : undefined);
        ctx.log.debug({ name: target.name, outcome, surface: 'grpc' }, 'tail finished');
        return;
      }
      const meta = await ctx.store.head(target.name);
      if (meta === null) throw new ServiceError('LOGSVC_STREAM_NOT_FOUND', `no stream or log for "${target.key}"`);
      const open = async () => (await ctx.store.get(target.name))?.body ?? null;
      const snapshot = new SnapshotReader({ contentType: meta.contentType, created: meta.created, open }, ctx.config.stream.maxLineBytes);
      await snapshotToCall(snapshot, start, writer);
    } finally {
      session.close();
    }
  } catch (err) {
    const onUnknown = (e: unknown) => ctx.log.error({ err: e }, 'grpc tail failed');
    if (writer !== undefined) writer.failWith(err, onUnknown);
    else endWithError(call, err, onUnknown);
  } finally {
    call.off('cancelled', leave);
    call.off('close', leave);
  }
}

/**
 * A finished log from its snapshot, with the seqs a live tail gave (as
 * handler/tail/snapshot-tail.ts does for SSE), in batches of the same bounds.
 */
async function snapshotToCall(snapshot: SnapshotReader, start: CursorStart, writer: GrpcTailWriter): Promise<void> {
  let from: number;
  if (start.kind === 'tail') {
    // First pass: count the rows (nothing kept); the second pass sends the last N.
    let rows = 0;
    for await (const _ of snapshot.rows()) {
      rows++;
      if (writer.closed) return;
    }
    from = snapshot.firstSeq + Math.max(0, rows - start.lines);
  } else {
    from = start.kind === 'after' ? start.seq + 1 : 0;
    if (from < snapshot.firstSeq) {
      await writer.dropped({ from, to: snapshot.firstSeq - 1 });
      from = snapshot.firstSeq;
    }
  }
  let out: LogLineMessage[] = [];
  let held = 0;
  for await (const { seq, row } of snapshot.rows()) {
    if (writer.closed) return;
    if (seq < from) continue;
    const line = logLineFromJson(seq, snapshot.lineJson(row, seq));
    out.push(line);
    held += line.out.length;
    if (out.length >= SNAPSHOT_BATCH_ROWS || held >= SNAPSHOT_BATCH_CHARS) {
      await writer.batch(out);
      out = [];
      held = 0;
    }
  }
  if (out.length > 0) await writer.batch(out);
  await writer.terminal();
}
