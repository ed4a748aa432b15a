// logservice.v1.LogStreams (proto/logservice/v1/log_streams.proto): the
// stream operations of handler/stream-handlers.ts over gRPC. Open, Close and
// Info are here; Push and Tail, the streaming calls, have a module each.
import type { sendUnaryData, Server, ServerUnaryCall, ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { ServiceError } from '../foundation/errors.ts';
import { keyInScope } from '../handler/auth.ts';
import type { HandlerContext } from '../handler/context.ts';
import { validatePrefix } from '../handler/keys.ts';
import { closeStream } from '../handler/stream-handlers.ts';
import { authorizeAccount, authorizeKey } from './call-auth.ts';
import type { CloseRequest, InfoRequest, OpenRequest } from './messages.ts';
import { pushCall } from './push-call.ts';
import { boundedPushDeserializer } from './push-message-bounds.ts';
import { toGrpcError } from './status-mapping.ts';
import { tailCall } from './tail-call.ts';

/** The fully qualified name, as health checks and reflection know it. */
export const LOG_STREAMS_SERVICE = 'logservice.v1.LogStreams';
export const LOG_STREAMS_PROTO = 'logservice/v1/log_streams.proto';

const MAX_TTL_SECONDS = 30 * 24 * 3600;

/** A unary handler: runs `work`, answers its value or its error's status. */
function unary<Req, Res>(ctx: HandlerContext, work: (call: ServerUnaryCall<Req, Res>) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    work(call).then(
      (value) => callback(null, value),
      (err: unknown) => callback(toGrpcError(err, (e) => ctx.log.error({ err: e, path: call.getPath() }, 'grpc call failed'))),
    );
  };
}

async function open(ctx: HandlerContext, call: ServerUnaryCall<OpenRequest, object>): Promise<object> {
  const { name } = authorizeKey(ctx, call.metadata, 'write', call.request.accountId, call.request.key);
  const ttl = call.request.timeoutSeconds ?? 0;
  if (ttl > MAX_TTL_SECONDS) throw new ServiceError('LOGSVC_INVALID_PARAM', `timeout_seconds must be 0 (the default) or 1 to ${MAX_TTL_SECONDS}`);
  await ctx.stream.open(name, { ttlSeconds: ttl === 0 ? undefined : ttl });
  return {};
}

async function close(ctx: HandlerContext, call: ServerUnaryCall<CloseRequest, object>): Promise<object> {
  const { name, key } = authorizeKey(ctx, call.metadata, 'write', call.request.accountId, call.request.key);
  if (!(await closeStream(ctx, name, call.request.snapshot === true))) throw new ServiceError('LOGSVC_STREAM_NOT_FOUND', `no open stream "${key}"`);
  return {};
}

/** Open streams of the account, only those under its scope for a scoped token (as GET /ci/streams). */
async function info(ctx: HandlerContext, call: ServerUnaryCall<InfoRequest, object>): Promise<object> {
  const { grant, account } = authorizeAccount(ctx, call.metadata, 'read', call.request.accountId);
  const requested = call.request.prefix ?? '';
  const prefix = `${account}/${requested === '' ? '' : validatePrefix(requested)}`;
  const keyPrefix = grant.scope?.keyPrefix;
  const streams: Record<string, object> = {};
  for (const [name, entry] of await ctx.stream.info(prefix)) {
    const key = name.slice(account.length + 1);
    if (keyPrefix === undefined || keyInScope(key, keyPrefix)) streams[key] = { ...entry, held: entry.held ?? entry.size };
  }
  return { streams };
}

function logStreamsImplementation(ctx: HandlerContext): UntypedServiceImplementation {
  return {
    Open: unary(ctx, (call: ServerUnaryCall<OpenRequest, object>) => open(ctx, call)),
    Close: unary(ctx, (call: ServerUnaryCall<CloseRequest, object>) => close(ctx, call)),
    Info: unary(ctx, (call: ServerUnaryCall<InfoRequest, object>) => info(ctx, call)),
    Push: (call: Parameters<typeof pushCall>[1]) => void pushCall(ctx, call),
    Tail: (call: Parameters<typeof tailCall>[1]) => void tailCall(ctx, call),
  };
}

export function addLogStreams(server: Server, definition: ServiceDefinition, ctx: HandlerContext): void {
  const push = definition.Push!;
  // Push's messages are counted on the wire before they are decoded (push-message-bounds.ts).
  const bounded: ServiceDefinition = { ...definition, Push: { ...push, requestDeserialize: boundedPushDeserializer(push.requestDeserialize) } };
  server.addService(bounded, logStreamsImplementation(ctx));
}
