// go-scribe and Log Streamer on the gRPC port (docs/SCRIBE.md §2): the same
// handlers under both packages, com.romanostrechlis.scribe.api (go-scribe) and
// api (Log Streamer), plus go-scribe's CLIScribe. The .proto files are
// proto/scribe/ and proto/api/.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { sendUnaryData, Server, ServerUnaryCall, ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import type { Logger } from 'pino';
import { keyInScope } from '../handler/auth.ts';
import type { HandlerContext } from '../handler/context.ts';
import { authorizeAccount } from './call-auth.ts';
import { protoRoot } from './proto-files.ts';
import { ScribeLog, type LogRequest } from './scribe-log.ts';
import { toGrpcError } from './status-mapping.ts';

const GO_SCRIBE = 'com.romanostrechlis.scribe.api';
const LOG_STREAMER = 'api';

/** Results GetStats and GetScribesResponsibility return at most (one message stays far below 4 MiB). */
const MAX_RESULTS = 10_000;

/** What the gRPC listener hands a registration (app/grpc-listener.ts GrpcContext). */
export interface ScribeRegistrationContext {
  ctx: HandlerContext;
  log: Logger;
  describe(protoFiles: string | string[]): PackageDefinition;
  reportHealth(serviceName: string): void;
}

function unary<Req, Res>(log: Logger, work: (call: ServerUnaryCall<Req, Res>) => Promise<Res> | Res) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    Promise.resolve()
      .then(() => work(call))
      .then(
        (value) => callback(null, value),
        (err: unknown) => callback(toGrpcError(err, (e) => log.error({ err: e, path: call.getPath() }, 'grpc call failed'))),
      );
  };
}

/** The instance as CLIScribe names it. */
function instanceName(): string {
  return `${hostname()}:${process.pid}`;
}

let version: string | undefined;
/** The version in log-service's package.json (next to proto/), read once. */
function packageVersion(): string {
  if (version === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(join(dirname(protoRoot()), 'package.json'), 'utf8')) as { version?: unknown };
      version = typeof pkg.version === 'string' ? pkg.version : 'unknown';
    } catch {
      version = 'unknown';
    }
  }
  return version;
}

interface PingRequest {
  a?: number;
  b?: number;
}

/** The services both packages share: Log (under its one or two names), Pinger, Register. */
function ingestImplementations(scribe: ScribeLog, log: Logger) {
  return {
    log: {
      Log: unary(log, async (call: ServerUnaryCall<LogRequest, object>) => {
        await scribe.log(call.metadata, call.request);
        return { res: 'true' };
      }),
    },
    // Go's int32 product wraps; Math.imul is that multiplication.
    ping: { Ping: unary(log, (call: ServerUnaryCall<PingRequest, object>) => ({ res: Math.imul(call.request.a ?? 0, call.request.b ?? 0) })) },
    register: { Register: unary(log, () => ({ res: 'Success' })) },
  } satisfies Record<string, UntypedServiceImplementation>;
}

function cliImplementation(ctx: HandlerContext, scribe: ScribeLog, log: Logger): UntypedServiceImplementation {
  return {
    GetVersion: unary(log, () => ({ results: [{ type: 'SCRIBE', name: instanceName(), version: packageVersion() }] })),
    GetStats: unary(log, async (call: ServerUnaryCall<object, object>) => {
      const { grant, account } = authorizeAccount(ctx, call.metadata, 'read', undefined);
      const result: { name: string; count: number }[] = [];
      for (const [name, info] of await ctx.stream.info(`${account}/`)) {
        const key = name.slice(account.length + 1);
        if (grant.scope === undefined || keyInScope(key, grant.scope.keyPrefix)) result.push({ name: key, count: info.size });
      }
      result.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
      return { result: result.slice(0, MAX_RESULTS) };
    }),
    GetScribesResponsibility: unary(log, (call: ServerUnaryCall<object, object>) => {
      const { grant, account } = authorizeAccount(ctx, call.metadata, 'read', undefined);
      const name = instanceName();
      return {
        result: scribe
          .responsibility(grant, account)
          .slice(0, MAX_RESULTS)
          .map((key) => ({ name, responsibility: key })),
      };
    }),
  };
}

/**
 * Adds go-scribe's and Log Streamer's services to the gRPC server (one entry of
 * app/grpc-listener.ts GRPC_REGISTRATIONS). Ping, Register and GetVersion need no
 * token (go-scribe's mediator and CLI sent none, and they reveal nothing); Log
 * needs write access and GetStats / GetScribesResponsibility read access to the
 * caller's account, with the same tokens as HTTP.
 */
export function registerScribe(server: Server, context: ScribeRegistrationContext): void {
  const scribe = new ScribeLog(context.ctx);
  const ingest = ingestImplementations(scribe, context.log);
  const goScribe = context.describe(['scribe/log_scribe.proto', 'scribe/cli_scribe.proto']);
  const streamer = context.describe('api/log_streamer.proto');
  const add = (pkg: PackageDefinition, service: string, implementation: UntypedServiceImplementation) => {
    server.addService(pkg[service] as ServiceDefinition, implementation);
    context.reportHealth(service);
  };
  add(goScribe, `${GO_SCRIBE}.LogScribe`, ingest.log);
  add(goScribe, `${GO_SCRIBE}.Pinger`, ingest.ping);
  add(goScribe, `${GO_SCRIBE}.Register`, ingest.register);
  add(goScribe, `${GO_SCRIBE}.CLIScribe`, cliImplementation(context.ctx, scribe, context.log));
  add(streamer, `${LOG_STREAMER}.LogStreamer`, ingest.log);
  add(streamer, `${LOG_STREAMER}.LogScribe`, ingest.log);
  add(streamer, `${LOG_STREAMER}.Pinger`, ingest.ping);
  add(streamer, `${LOG_STREAMER}.Register`, ingest.register);
}
