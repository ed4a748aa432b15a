// The gRPC listener (docs/GRPC.md): one grpc-js server on LOG_SERVICE_GRPC_BIND
// with the same TLS (LOG_SERVICE_TLS_*) and tokens as HTTP, serving every
// registered service, the standard health service (following readiness) and
// reflection. Started and stopped by app/http-server.ts; `log-service scribe`
// may start one on its own port through startGrpcListener.
import { readFileSync } from 'node:fs';
import { Server, ServerCredentials, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import type { Logger } from 'pino';
import type { Config } from '../foundation/config.ts';
import { addLogStreams, LOG_STREAMS_PROTO, LOG_STREAMS_SERVICE } from '../grpc/log-streams-service.ts';
import { loadProto, PROTO_OPTIONS } from '../grpc/proto-files.ts';
import { ReadinessHealth } from '../grpc/readiness-health.ts';
import { registerScribe } from '../grpc/scribe-services.ts';
import type { HandlerContext } from '../handler/context.ts';
import { isLoopback } from './loopback.ts';

/** What a registration gets to add its services with. */
interface GrpcContext {
  ctx: HandlerContext;
  log: Logger;
  /**
   * Loads .proto files of the repo's proto/ (e.g. "logservice/v1/log_streams.proto";
   * every file of one package in one call) and adds them to what reflection
   * describes; returns their package definition.
   */
  describe(protoFiles: string | string[]): PackageDefinition;
  /** Reports a service's health with the server's (its fully qualified name, e.g. "logservice.v1.LogStreams"). */
  reportHealth(serviceName: string): void;
}

/** Adds one or more services to the server. */
export type GrpcRegistration = (server: Server, context: GrpcContext) => void;

const registerLogStreams: GrpcRegistration = (server, context) => {
  const pkg = context.describe(LOG_STREAMS_PROTO);
  addLogStreams(server, pkg[LOG_STREAMS_SERVICE] as ServiceDefinition, context.ctx);
  context.reportHealth(LOG_STREAMS_SERVICE);
};

/**
 * Every service of the gRPC port, in one list: to serve another service on the
 * same port (issue 14 §2, go-scribe's LogScribe, Pinger, Register, CLIScribe),
 * add its registration here. Health and reflection are added after these and
 * cover all of them.
 */
const GRPC_REGISTRATIONS: GrpcRegistration[] = [registerLogStreams, registerScribe];

/**
 * Largest message the server accepts: gRPC's usual 4 MiB, or the HTTP push
 * limit when that is smaller (the same limits on both surfaces). A Push batch is
 * one message, so this bounds what one batch costs the server.
 */
function maxMessageBytes(config: Config): number {
  return Math.min(4 * 1024 * 1024, config.limits.maxPushBytes);
}

export interface GrpcListener {
  /** The bound port (the one asked for, or the one the OS chose for port 0). */
  port: number;
  /** host:port to dial. */
  address: string;
  /** NOT_SERVING, then waits up to `graceMs` for calls to end, then cuts the rest. */
  stop(graceMs: number): Promise<void>;
}

/** TLS from the same settings as HTTP: one-way with a cert and key, mutual with a CA too. Never silently plaintext. */
function credentials(config: Config): ServerCredentials {
  if (config.tls === undefined) return ServerCredentials.createInsecure();
  const keyCert = { private_key: readFileSync(config.tls.keyFile), cert_chain: readFileSync(config.tls.certFile) };
  if (config.tls.caFile === undefined) return ServerCredentials.createSsl(null, [keyCert], false);
  // Mutual TLS: a client certificate signed by this CA is required.
  return ServerCredentials.createSsl(readFileSync(config.tls.caFile), [keyCert], true);
}

/**
 * Starts a gRPC server on `bind` (default: config.grpc) with `registrations`.
 * Throws when the bind fails or when it would serve without auth off loopback
 * (docs/SECURITY.md, the HTTP listener's rule).
 */
export async function startGrpcListener(
  config: Config,
  ctx: HandlerContext,
  log: Logger,
  bind: { host: string; port: number } | undefined = config.grpc,
  registrations: readonly GrpcRegistration[] = GRPC_REGISTRATIONS,
): Promise<GrpcListener> {
  if (bind === undefined) throw new Error('no gRPC bind address (LOG_SERVICE_GRPC_BIND)');
  if (config.auth.globalToken === undefined && !config.auth.disabled && !isLoopback(bind.host)) {
    throw new Error(
      `refusing to serve gRPC on ${bind.host}:${bind.port} without a token: set LOG_SERVICE_GLOBAL_TOKEN, bind to 127.0.0.1, or set LOG_SERVICE_DISABLE_AUTH=true explicitly`,
    );
  }
  const limit = maxMessageBytes(config);
  const server = new Server({
    'grpc.max_receive_message_length': limit,
    // Tails and long Push calls are quiet between messages: keepalive pings find dead peers.
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
  });
  const described: PackageDefinition[] = [];
  const healthNames: string[] = [];
  const context: GrpcContext = {
    ctx,
    log,
    describe(protoFiles) {
      const pkg = loadProto(protoFiles);
      described.push(pkg);
      return pkg;
    },
    reportHealth(serviceName) {
      healthNames.push(serviceName);
    },
  };
  for (const register of registrations) register(server, context);
  const health = new ReadinessHealth(ctx, healthNames);
  health.addToServer(server);
  described.push(loadSync(healthProtoPath, PROTO_OPTIONS));
  new ReflectionService(Object.assign({}, ...described) as PackageDefinition).addToServer(server);

  const host = bind.host.includes(':') ? `[${bind.host}]` : bind.host;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${bind.port}`, credentials(config), (err, bound) => (err ? reject(err) : resolve(bound)));
  });
  await health.start();
  const address = `${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  log.info({ address, tls: config.tls ? (config.tls.caFile ? 'mutual' : 'on') : 'off', services: healthNames }, 'grpc listening');

  let stopping: Promise<void> | undefined;
  return {
    port,
    address,
    stop(graceMs) {
      stopping ??= (async () => {
        health.stop();
        const drained = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        });
        await Promise.race([drained, grace]);
        clearTimeout(timer);
        server.forceShutdown();
      })();
      return stopping;
    },
  };
}
