// One connection to the main server's tail port (docs/TAILSRV.md §6): the
// tailsrv multi-file grammar over log streams. With auth on, the first line is
// `auth <token>` (the same tokens and scopes as HTTP); then `list` answers the
// caller's open streams, and `stream <name> from …` the log's raw text — the
// concatenation of `out`, the bytes of GET …/raw — live through the shared
// follow loop, or from the snapshot once the stream is finished, and the
// connection closes when the stream does. Anything refused gets one
// `error: <reason>` line and a close.
import type { Socket } from 'node:net';
import { ServiceError } from '../../foundation/errors.ts';
import { openAtOffset, type LogStream, type StreamCursor } from '../../stream/log-stream.ts';
import { endConnection, refuse } from '../../tailsrv/connection-end.ts';
import { HeaderError, parseTailRequest, type TailStart } from '../../tailsrv/header-grammar.ts';
import { HeaderReader, type HeaderLimits } from '../../tailsrv/header-reader.ts';
import type { Grant } from '../auth.ts';
import type { HandlerContext } from '../context.ts';
import { followStream } from '../tail/follow.ts';
import { LeaveSignal } from '../tail/leave-signal.ts';
import { TailSession } from '../tail/session.ts';
import { SocketRawWriter } from '../tail/socket-raw-writer.ts';
import { snapshotToRaw } from '../tail/snapshot-tail.ts';
import { SnapshotReader } from '../tail/snapshot.ts';
import { listStreamNames, resolveStreamName, type StreamAddress } from './stream-address.ts';

const AUTH_LINE = /^auth\s+(\S+)\s*$/;

/** Serves one accepted socket until its tail ends; never throws. `headerRead` is called once the header phase is over. */
export async function serveStreamTail(ctx: HandlerContext, socket: Socket, limits: HeaderLimits, headerRead: () => void = () => {}): Promise<void> {
  const reader = new HeaderReader(socket, limits);
  try {
    let grant: Grant;
    let header: string;
    try {
      let line = await reader.nextLine();
      const auth = AUTH_LINE.exec(line.trim());
      if (auth !== null) line = await reader.nextLine();
      else if (ctx.auth.enabled) throw new ServiceError('LOGSVC_UNAUTHORIZED', 'auth is on: send "auth <token>" as the first line');
      // With auth off every caller is the global one, a token or not (scripts work against both).
      grant = ctx.auth.enabled ? ctx.auth.identifyToken(auth![1]) : { global: true };
      header = line;
    } finally {
      reader.finish();
      headerRead();
    }
    if (ctx.shutdown.aborted) {
      endConnection(socket);
      return;
    }
    const request = parseTailRequest(header);
    if (request.kind === 'list') {
      const names = await listStreamNames(ctx.stream, ctx.auth, grant);
      endConnection(socket, names.map((n) => `${n}\n`).join(''));
      return;
    }
    await tailStream(ctx, socket, resolveStreamName(ctx.auth, grant, request.path), request.start);
    endConnection(socket);
  } catch (err) {
    if (err instanceof HeaderError) refuse(socket, err.message);
    else if (err instanceof ServiceError) refuse(socket, `${err.message} (${err.code})`);
    else {
      ctx.log.warn({ err }, 'tail port: connection failed');
      refuse(socket, 'internal error');
    }
  }
}

async function tailStream(ctx: HandlerContext, socket: Socket, address: StreamAddress, start: TailStart): Promise<void> {
  const left = new LeaveSignal();
  const leave = left.abort;
  socket.on('close', leave);
  const session = TailSession.forCall(ctx, address.account, left);
  try {
    const opened = await openCursor(ctx.stream, address.name, start);
    if (opened !== null) {
      const writer = new SocketRawWriter(session.sink(socket), start, opened.offset);
      const outcome = await followStream(opened.cursor, writer, session);
      ctx.log.debug({ name: address.name, outcome, surface: 'tcp' }, 'tail finished');
      return;
    }
    const meta = await ctx.store.head(address.name);
    if (meta === null) throw new ServiceError('LOGSVC_STREAM_NOT_FOUND', `no stream or log for "${address.key}"`);
    const open = async () => (await ctx.store.get(address.name))?.body ?? null;
    const shared = { cache: ctx.snapshotTexts, key: `${address.name}\0${meta.etag}`, size: meta.size };
    const snapshot = new SnapshotReader({ contentType: meta.contentType, created: meta.created, open, shared }, ctx.config.stream.maxLineBytes);
    await serveSnapshot(snapshot, start, new SocketRawWriter(session.sink(socket), start));
  } finally {
    socket.off('close', leave);
    session.close();
  }
}

/**
 * `from end`: a cursor at the end; `from byte N` and `last N bytes`: at the
 * archived chunk that holds the byte (the offset resolved); `start` and `from
 * line N`: from the oldest line held.
 */
async function openCursor(stream: LogStream, name: string, start: TailStart): Promise<{ cursor: StreamCursor; offset?: number } | null> {
  if (start.kind === 'byte' || start.kind === 'last') return openAtOffset(stream, name, start.kind === 'byte' ? start.offset : -start.bytes);
  const cursor = await stream.cursor(name, start.kind === 'end' ? { kind: 'tail', lines: 0 } : { kind: 'beginning' });
  return cursor === null ? null : { cursor };
}

/** A finished log: the same bytes from the snapshot, then the close (there is nothing to wait for). */
async function serveSnapshot(snapshot: SnapshotReader, start: TailStart, writer: SocketRawWriter): Promise<void> {
  if (start.kind === 'end') return;
  if (start.kind === 'byte' && start.offset > 0 && start.offset < snapshot.firstOffset) {
    await writer.refuse(`byte ${start.offset} is no longer held: the oldest byte is ${snapshot.firstOffset} (ask "from byte ${snapshot.firstOffset}")`);
    return;
  }
  let offset = start.kind === 'byte' ? start.offset : start.kind === 'last' ? -start.bytes : 0;
  if (start.kind === 'line') {
    const found = await snapshot.offsetOfRow(start.line - 1);
    if (found === undefined) return; // the log ended before that line
    offset = found;
  }
  await snapshotToRaw(snapshot, offset, writer);
}
