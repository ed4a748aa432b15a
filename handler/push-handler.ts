// PUT …/stream: push lines (docs/PROTOCOL.md §4.3, §4.4). The body is read and
// parsed as it arrives into a window of what the stream retains
// (push-body.ts); the lines are appended in one call once the body is whole
// and valid.
import { internalName } from './keys.ts';
import { readPush } from './push-body.ts';
import { noContent } from './responses.ts';
import type { RouteCall } from './route-call.ts';

export async function pushLines(call: RouteCall): Promise<void> {
  const { ctx, req } = call;
  const { stream, limits, http } = ctx.config;
  const push = await readPush(req, req.headers['content-type'], {
    maxPushBytes: limits.maxPushBytes,
    timeoutMs: http.requestTimeoutSeconds * 1000,
    keepLines: stream.maxLines,
    keepBytes: stream.maxBytes,
    maxLineBytes: stream.maxLineBytes,
  });
  await ctx.stream.push(internalName(call.account, call.key), push.lines, { skipped: push.skipped });
  ctx.metrics.pushRequests++;
  ctx.metrics.linesPushed += push.total;
  noContent(call.res);
}
