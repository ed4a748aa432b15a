// `log-service scribe`: go-scribe's agent flags on the log service
// (docs/SCRIBE.md §4, docs/CLI.md). It is `log-service server` with file output
// on (LOG_SERVICE_SCRIBE_DIR / _MAX_SIZE / _CONSOLE) and the gRPC listener, where
// go-scribe and Log Streamer producers call Log, on --port (go-scribe's default,
// 8080). Every other setting comes from the environment and ./.env as for
// `server`; the flags win. Exit codes: 0 on SIGTERM/SIGINT, 1 when it cannot
// start, 2 on bad usage (a bad --size included: one line on stderr).
import type { Command } from 'commander';
import { ConfigError, loadConfig, readEnvironment, type Config } from '../foundation/config.ts';
import { parseScribeSize } from '../foundation/scribe-size.ts';
import { runServer } from './server-command.ts';

interface ScribeFlags {
  path?: string;
  size?: string;
  console?: boolean;
  port?: string;
  bind?: string;
}

/** go-scribe's agent listened on 8080 unless told otherwise. */
const GO_SCRIBE_PORT = '8080';

export function registerScribeCommand(program: Command): void {
  program
    .command('scribe')
    .description('run the log service as a go-scribe agent: Log calls on the gRPC port, every line also appended to DIR/<path>/<filename>.log')
    .option('--path <dir>', 'directory for the log files (created when missing; default: LOG_SERVICE_SCRIBE_DIR)')
    .option('--size <size>', 'rotate a file before it passes this size: 100KB, 5MB, 0.01GB (1 KB = 1000 bytes), a byte count, or -1 (never); default 1MB')
    .option('--console', 'also print every line on stdout')
    .option('--port <port>', `gRPC port (0: any free port, logged at start; default ${GO_SCRIBE_PORT}, or LOG_SERVICE_GRPC_BIND's)`)
    .option('--bind <host>', "gRPC address to listen on (another than loopback needs LOG_SERVICE_GLOBAL_TOKEN; default 127.0.0.1, or LOG_SERVICE_GRPC_BIND's)")
    .addHelpText(
      'after',
      `
Examples:
  log-service scribe --path /var/log/scribe --size 5MB          # go-scribe producers call 127.0.0.1:8080
  log-service scribe --path ./logs --size -1 --console --port 4242
  LOG_SERVICE_GLOBAL_TOKEN=s3cret LOG_SERVICE_REDIS_URL=redis://10.0.0.2:6379 log-service scribe --path /logs --bind 0.0.0.0

The HTTP API (tails over SSE, blobs) is served too, on LOG_SERVICE_HTTP_BIND (default 127.0.0.1:8079).`,
    )
    .action(async (flags: ScribeFlags, command: Command) => {
      const usage = (message: string): never => command.error(`log-service: ${message}`, { exitCode: 2, code: 'log-service.usage' });
      const env = readEnvironment(process.env, process.cwd());
      const dir = flags.path ?? env.LOG_SERVICE_SCRIBE_DIR;
      if (dir === undefined || dir === '') usage('--path DIR is required (or set LOG_SERVICE_SCRIBE_DIR)');
      const size = flags.size ?? env.LOG_SERVICE_SCRIBE_MAX_SIZE ?? '1MB';
      if (parseScribeSize(size) === undefined) usage(`--size must be a go-scribe size such as 100KB, 5MB, 0.01GB, a byte count, or -1 (got "${size}")`);
      // The flags win; then LOG_SERVICE_GRPC_BIND (as --path and --size fall back to theirs); then go-scribe's defaults.
      const fromEnv = env.LOG_SERVICE_GRPC_BIND === undefined ? undefined : /^(.*):(\d+)$/.exec(env.LOG_SERVICE_GRPC_BIND);
      const port = flags.port ?? fromEnv?.[2] ?? GO_SCRIBE_PORT;
      const bind = flags.bind ?? (fromEnv?.[1] !== undefined && fromEnv[1] !== '' ? fromEnv[1].replace(/^\[(.*)\]$/, '$1') : '127.0.0.1');
      if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) usage(`--port must be 0-65535 (got "${port}")`);
      const host = bind.includes(':') ? `[${bind}]` : bind;

      let config: Config;
      try {
        config = loadConfig({
          ...env,
          LOG_SERVICE_SCRIBE_DIR: dir,
          LOG_SERVICE_SCRIBE_MAX_SIZE: size,
          ...(flags.console === true ? { LOG_SERVICE_SCRIBE_CONSOLE: 'true' } : {}),
          LOG_SERVICE_GRPC_BIND: `${host}:${port}`,
        });
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        process.stderr.write(`log-service: ${err.message}\n`);
        process.exit(1);
      }
      await runServer(config);
    });
}
