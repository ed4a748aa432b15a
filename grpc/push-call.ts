// Push (proto/logservice/v1/log_streams.proto): batches in, one ack per
// batch once it is stored. The bounds (docs/GRPC.md, "Flow control"):
//   * one batch is one message of at most GRPC_MAX_MESSAGE_BYTES (grpc-js
//     refuses a larger one with RESOURCE_EXHAUSTED before it is decoded), and
//     at most PUSH_BATCH_LINES lines of at most PUSH_LINE_ARGS args entries,
//     counted on the wire before it is decoded (push-message-bounds.ts);
//   * the token is checked before the first message is read, as HTTP checks
//     it before reading a body;
//   * the next batch is read only after this one is stored and its ack taken
//     by the connection: grpc-js reads a message from the HTTP/2 stream only
//     when the call's readable asks for one, so a producer faster than the
//     backend fills its own send window, not the server's memory. What the
//     server holds per call is the readable's buffer (16 decoded messages,
//     Node's object-mode high-water mark) plus the batch being stored;
//   * an ack the producer does not read waits for 'drain' before the next
//     batch is read, and the call is cut after the tail stall window.
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { ServiceError } from '../foundation/errors.ts';
import type { HandlerContext } from '../handler/context.ts';
import { SMALL_PUSH_BYTES } from '../handler/push-body.ts';
import { checkLine } from '../handler/push-lines.ts';
import { TAIL_STALL_MS, waitForDrain } from '../handler/tail/drain-wait.ts';
import type { LineInput } from '../stream/log-stream.ts';
import { authorizeKey, identify, type Addressed } from './call-auth.ts';
import { isRefused, type RefusedPushMessage } from './push-message-bounds.ts';
import { lineInput, type PushAck, type PushRequest } from './messages.ts';
import { endWithError } from './status-mapping.ts';

/** The same rule as X-Push-Id (handler/push-handler.ts). */
const PUSH_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export async function pushCall(ctx: HandlerContext, call: ServerDuplexStream<PushRequest, PushAck>): Promise<void> {
  const left = new AbortController();
  const leave = () => left.abort();
  call.once('cancelled', leave);
  let target: Addressed | undefined;
  let lastSeq = -1;
  try {
    identify(ctx, call.metadata);
    // destroyOnReturn: false — the default iterator destroys the call when the loop ends,
    // which would cut the last ack and the status off the duplex's writable side.
    for await (const message of call.iterator({ destroyOnReturn: false }) as AsyncIterable<PushRequest | RefusedPushMessage>) {
      if (isRefused(message)) throw message.refused;
      target = addressed(ctx, call, message, target);
      const lines = checkBatch(message);
      const pushId = message.pushId === undefined || message.pushId === '' ? undefined : message.pushId;
      if (pushId !== undefined && !PUSH_ID.test(pushId))
        throw new ServiceError('LOGSVC_INVALID_PARAM', 'push_id must be 1-128 characters of A-Z a-z 0-9 . _ : -');
      if (lines.length > 0) {
        const first = await ctx.stream.push(target.name, lines, { pushId, asSent: ctx.stream.keepsWholePush === true ? sentBody(lines) : undefined });
        lastSeq = first + lines.length - 1;
        ctx.metrics.pushRequests++;
        ctx.metrics.linesPushed += lines.length;
      }
      if (left.signal.aborted) return;
      if (!call.write({ lastSeq, lines: lines.length } satisfies PushAck)) await waitForDrain(call, left.signal, TAIL_STALL_MS);
    }
    if (!call.writableEnded && !call.destroyed) call.end();
  } catch (err) {
    if (left.signal.aborted) return; // the producer is gone: nobody to answer
    endWithError(call, err, (e) => ctx.log.error({ err: e }, 'grpc push failed'));
  } finally {
    call.off('cancelled', leave);
  }
}

/** The stream named by the first message; later ones may repeat it, not change it. */
function addressed(ctx: HandlerContext, call: ServerDuplexStream<PushRequest, PushAck>, message: PushRequest, target: Addressed | undefined): Addressed {
  if (target === undefined) return authorizeKey(ctx, call.metadata, 'write', message.accountId, message.key);
  if (
    (message.key !== undefined && message.key !== '' && message.key !== target.key) ||
    (message.accountId !== undefined && message.accountId !== '' && message.accountId !== target.account)
  ) {
    throw new ServiceError(
      'LOGSVC_INVALID_PARAM',
      'one Push call pushes to one stream: later messages must leave account_id and key empty or repeat the first ones',
    );
  }
  return target;
}

/**
 * The checked batch as a JSON array body, when that is ASCII, for a backend
 * that keeps pushes as sent (the memory ring under the archive: docs/ARCHITECTURE.md,
 * "A push is kept as sent"), as it keeps an HTTP push's body: one
 * `JSON.stringify` of the batch, where encoding its lines at push cost about
 * ten times as much. Its elements are exactly the lines (their own fields).
 */
function sentBody(lines: readonly LineInput[]): Buffer | undefined {
  const text = JSON.stringify(lines);
  // No bigger than an HTTP push read whole: a push kept as sent goes into an archive chunk whole.
  if (text.length > SMALL_PUSH_BYTES) return undefined;
  const body = Buffer.from(text, 'utf8');
  // As many bytes as characters: every character is ASCII.
  return body.length === text.length ? body : undefined;
}

function checkBatch(message: PushRequest): LineInput[] {
  const lines = message.lines ?? [];
  const out = new Array<LineInput>(lines.length);
  for (let i = 0; i < lines.length; i++) out[i] = checkLine(lineInput(lines[i]!), i);
  return out;
}
