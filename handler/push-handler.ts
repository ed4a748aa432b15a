// PUT …/stream: push lines (docs/PROTOCOL.md §4.3, §4.4). The body is read and
// parsed as it arrives into a window of what the stream retains
// (push-body.ts); the lines are appended in one call once the body is whole
// and valid. A batch that carries X-Push-Id is stored once, however often
// the producer retries it (stream/log-stream.ts PushOptions.pushId).
import { ServiceError } from '../foundation/errors.ts';
import { internalName } from './keys.ts';
import { readPush } from './push-body.ts';
import { noContent } from './responses.ts';
import type { RouteCall } from './route-call.ts';

/** X-Push-Id: the producer's id for one batch, so a retried batch is stored once. */
const PUSH_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export async function pushLines(call: RouteCall): Promise<void> {
  const { ctx, req } = call;
  const pushId = req.headers['x-push-id'];
  if (pushId !== undefined && (typeof pushId !== 'string' || !PUSH_ID.test(pushId))) {
    throw new ServiceError('LOGSVC_INVALID_PARAM', 'X-Push-Id must be 1-128 characters of A-Z a-z 0-9 . _ : -');
  }
  const { stream, limits, http } = ctx.config;
  const push = await readPush(req, req.headers['content-type'], {
    maxPushBytes: limits.maxPushBytes,
    timeoutMs: http.requestTimeoutSeconds * 1000,
    // With the archive under the memory ring a push is kept whole, up to LOG_SERVICE_MAX_PUSH_LINES
    // (default 25,000; 50,000 already grew the server's anonymous memory by ~130 MB for a push of
    // 4 Mi empty lines, test/push-bounds.test.ts). On Redis, what the ring retains.
    keepLines: ctx.stream.keepsWholePush === true ? Math.max(limits.maxPushLines, stream.maxLines) : stream.maxLines,
    keepBytes: stream.maxBytes,
    maxLineBytes: stream.maxLineBytes,
    // The memory ring under the archive keeps a JSON push as sent (docs/ARCHITECTURE.md, "A push is kept as sent").
    asSent: ctx.stream.keepsWholePush === true,
    // …and, when it reads nothing else of such a push, scanned instead of parsed (sent-scan.ts).
    scan: ctx.stream.pushScanned !== undefined,
  });
  const name = internalName(call.account, call.key);
  if (push.scanned !== undefined) await ctx.stream.pushScanned!(name, push.scanned, { pushId });
  else await ctx.stream.push(name, push.lines, { skipped: push.skipped, pushId, asSent: push.asSent });
  ctx.metrics.pushRequests++;
  ctx.metrics.linesPushed += push.total;
  noContent(call.res);
}
