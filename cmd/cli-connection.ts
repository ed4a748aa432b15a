// The options every client command shares (where the service is, the token,
// TLS files) and the client they configure. `.env` in the working directory
// is loaded before options resolve, so a pipeline can keep them in a file;
// the real environment wins over the file, the command line over both.
// The server and the token are resolved by the client's own rule
// (clientOptionsFromEnv): the environment's token goes only with the
// environment's server, so `--server` without `--token` sends no token.
import { existsSync, statSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { config as loadDotenv } from 'dotenv';
import { clientOptionsFromEnv, LogServiceClient, type LogServiceClientOptions } from '../client/index.ts';
import { UsageError } from './cli-output.ts';

const DEFAULT_SERVER = 'http://127.0.0.1:8079';

/** The command line's values (`--server` and `--token` only as given there; their variables are read by clientOptionsFromEnv). */
export interface ConnectionFlags {
  server?: string;
  token?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** `--grpc host:port`: the stream calls over gRPC (docs/GRPC.md), on the cistream commands that take it. */
  grpc?: string;
}

export const CONNECTION_ENV_HELP = `
Environment (also read from ./.env; the command line wins):
  LOG_SERVICE_SERVER            base URL of the service (default ${DEFAULT_SERVER})
  LOG_SERVICE_TOKEN             token, sent as X-Harness-Token; only to the server
                                of LOG_SERVICE_SERVER (with --server, pass --token)
  LOG_SERVICE_CLIENT_CA_FILE    CA certificate(s) to trust (PEM), like --ca-file
  LOG_SERVICE_CLIENT_CERT_FILE  client certificate for mutual TLS, like --cert-file
  LOG_SERVICE_CLIENT_KEY_FILE   key of the client certificate, like --key-file

Exit codes: 0 success, 1 server or network failure, 2 bad usage.`;

/**
 * A command group whose subcommands talk to the service. commander reads
 * option env vars while parsing the subcommand, i.e. after the group's
 * preSubcommand hook: that is where `.env` is loaded.
 */
export function clientCommandGroup(program: Command, name: string, description: string): Command {
  return program
    .command(name)
    .description(description)
    .hook('preSubcommand', () => {
      loadDotenv({ quiet: true });
    });
}

export function addConnectionOptions(command: Command): Command {
  return (
    command
      // No .env() here: clientOptionsFromEnv reads LOG_SERVICE_SERVER / LOG_SERVICE_TOKEN, so it can tell
      // a --server typed on the command line (which gets no token from the environment) from the variable.
      .addOption(new Option('--server <url>', `base URL of the log service (env: LOG_SERVICE_SERVER, default: ${DEFAULT_SERVER})`))
      .addOption(new Option('--token <token>', 'token sent as X-Harness-Token (env: LOG_SERVICE_TOKEN, sent only to the server of LOG_SERVICE_SERVER)'))
      .addOption(new Option('--ca-file <path>', 'CA certificate(s) to trust for the server (PEM)').env('LOG_SERVICE_CLIENT_CA_FILE'))
      .addOption(new Option('--cert-file <path>', 'client certificate for mutual TLS (PEM)').env('LOG_SERVICE_CLIENT_CERT_FILE'))
      .addOption(new Option('--key-file <path>', 'key of the client certificate (PEM)').env('LOG_SERVICE_CLIENT_KEY_FILE'))
  );
}

export function clientFrom(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): LogServiceClient {
  const commandLine: LogServiceClientOptions = {};
  if (flags.server !== undefined) commandLine.server = flags.server;
  // `--token ""` sends no token (and stops the environment's).
  if (flags.token !== undefined) commandLine.token = flags.token === '' ? null : flags.token;
  const options = clientOptionsFromEnv(env, commandLine);
  const server = String(options.server ?? DEFAULT_SERVER);
  const source = flags.server !== undefined ? '--server' : 'LOG_SERVICE_SERVER';
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new UsageError(`${source}: not a URL: "${server}" (expected e.g. ${DEFAULT_SERVER})`);
  }
  if (flags.grpc !== undefined) {
    // TLS when the HTTP URL is https or TLS files are given: the gRPC port has the same TLS settings as HTTP.
    if (!/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(flags.grpc))
      throw new UsageError(`--grpc: expected host:port, e.g. 127.0.0.1:8081, got "${flags.grpc}"`);
    const tls = url.protocol === 'https:' || url.protocol === 'grpcs:' || flags.caFile !== undefined || flags.certFile !== undefined;
    const grpcUrl = new URL(`${tls ? 'grpcs' : 'grpc'}://${flags.grpc}`);
    // The environment's token goes to the environment's server: to its host's gRPC port, not to another host.
    if (flags.token === undefined && flags.server === undefined && options.token && grpcUrl.hostname !== url.hostname) {
      process.stderr.write(`log-service: LOG_SERVICE_TOKEN is not sent to --grpc ${flags.grpc} (another host than LOG_SERVICE_SERVER's); pass --token\n`);
      options.token = null;
    }
    url = grpcUrl;
  }
  const grpc = url.protocol === 'grpc:' || url.protocol === 'grpcs:';
  if (url.protocol !== 'http:' && url.protocol !== 'https:' && !grpc) {
    throw new UsageError(`${source}: expected an http:// or https:// URL (or grpc:// / grpcs:// for cistream over gRPC), got "${server}"`);
  }
  if (grpc && url.port === '') throw new UsageError(`${source}: a gRPC server URL needs a port, e.g. grpc://127.0.0.1:8081`);
  if (url.username !== '' || url.password !== '') {
    // Never echo the URL: it holds a password. Credentials go in --token.
    throw new UsageError(`${source}: the URL must not contain a user name or password; pass credentials with --token`);
  }
  if ((flags.certFile === undefined) !== (flags.keyFile === undefined)) {
    throw new UsageError('--cert-file and --key-file go together (mutual TLS needs both)');
  }
  for (const [option, path] of [
    ['--ca-file', flags.caFile],
    ['--cert-file', flags.certFile],
    ['--key-file', flags.keyFile],
  ] as const) {
    if (path === undefined) continue;
    if (!existsSync(path)) throw new UsageError(`${option}: no such file "${path}"`);
    if (!statSync(path).isFile()) throw new UsageError(`${option}: "${path}" is not a file (expected a PEM file)`);
  }
  if (flags.server !== undefined && flags.token === undefined && (env.LOG_SERVICE_TOKEN ?? '') !== '') {
    process.stderr.write('log-service: LOG_SERVICE_TOKEN is not sent to --server (it goes only to LOG_SERVICE_SERVER); pass --token for this server\n');
  }
  return new LogServiceClient({
    ...options,
    server: url,
    ...(flags.caFile !== undefined ? { ca: flags.caFile } : {}),
    ...(flags.certFile !== undefined ? { cert: flags.certFile } : {}),
    ...(flags.keyFile !== undefined ? { key: flags.keyFile } : {}),
  });
}

/** `--grpc host:port` on the cistream commands that can use the gRPC service (open, push, tail, close). */
export function addGrpcOption(command: Command): Command {
  return command.addOption(
    new Option(
      '--grpc <host:port>',
      "talk to the service's gRPC port (LOG_SERVICE_GRPC_BIND) instead of HTTP; TLS when --server is https or --ca-file/--cert-file is given",
    ),
  );
}

/** The root `--help` epilogue for the client commands (registered from cmd/main.ts). */
export function registerClientHelp(program: Command): void {
  program.addHelpText(
    'after',
    `
Examples (a build step streaming its log, then storing it):
  log-service cistream open web 42 test unit
  make test 2>&1 | tee build.log | log-service cistream push web 42 test unit
  log-service cistream close web 42 test unit
  log-service cistore upload web 42 test unit build.log # the whole log, kept after the stream is gone
  log-service cistream tail web 42 test unit            # in another terminal: follow it live (or replay it)
  log-service cistore download web 42 test unit -o build.log
  log-service token --account acme --key web/42 --access write   # a runner's token (needs the global token)

Run "log-service <command> <subcommand> --help" for the arguments and options of each.
${CONNECTION_ENV_HELP}`,
  );
}
