// `log-service server`: config from env + .env, listen, stop cleanly on SIGTERM/SIGINT.
import type { Command } from 'commander';
import type { Logger } from 'pino';
import { ConfigError, loadConfig, readEnvironment, type Config } from '../foundation/config.ts';

/** Exit code after an error nothing handled (EX_SOFTWARE): a bug, see exitOnStrayErrors. */
const EXIT_INTERNAL_ERROR = 70;

export function registerServerCommand(program: Command): void {
  program
    .command('server')
    .description('run the log service (configuration from the environment and ./.env; see .env.example)')
    .addHelpText(
      'after',
      `
Examples:
  log-service server                                   # 127.0.0.1:8079, streams in memory, blobs in ./data
  LOG_SERVICE_HTTP_BIND=:8079 LOG_SERVICE_GLOBAL_TOKEN=s3cret log-service server
  LOG_SERVICE_S3_BUCKET=logs LOG_SERVICE_REDIS_URL=redis://127.0.0.1:6379 log-service server`,
    )
    .action(async () => {
      let config;
      try {
        config = loadConfig(readEnvironment(process.env, process.cwd()));
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`log-service: ${err.message}\n`);
          process.exit(1);
        }
        throw err;
      }
      await runServer(config);
    });
}

/**
 * Starts the server on `config` and runs it until SIGTERM/SIGINT (exit 0), or
 * exits 1 when it cannot start: `server`, and `scribe` with its flags folded in.
 */
export async function runServer(config: Config): Promise<void> {
  // Loaded here, not at the top: the client commands should not pay for the server stack.
  const { StartupError, startServer } = await import('../app/http-server.ts');
  const { createLogger } = await import('../foundation/logger.ts');
  const log = createLogger(config.logLevel);
  exitOnStrayErrors(log);
  let running;
  try {
    running = await startServer(config, log);
  } catch (err) {
    const message = err instanceof StartupError ? err.message : `cannot start: ${(err as Error).message}`;
    log.fatal(message);
    process.stderr.write(`log-service: ${message}\n`);
    process.exit(1);
  }
  const server = running;
  const onSignal = (signal: string) => {
    log.info({ signal }, 'signal received');
    server.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
}

/**
 * The last resort (docs/OPERATIONS.md §2): an exception or rejection that no
 * error path handled is a bug, and the process is in a state no one planned
 * for. It is logged with its stack and the process exits with 70 at once (the
 * data-directory lock is released on exit; LMDB's committed writes are
 * durable), so the supervisor restarts a clean instance. Errors a request can
 * cause (a full disk, a backend down) are answered by their handlers and
 * never reach this.
 */
export function exitOnStrayErrors(log: Logger): void {
  const exit = (kind: string) => (err: unknown) => {
    try {
      log.fatal({ err }, `${kind}: exiting`);
    } finally {
      process.stderr.write(`log-service: ${kind}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(EXIT_INTERNAL_ERROR);
    }
  };
  process.on('uncaughtException', exit('uncaught exception'));
  process.on('unhandledRejection', exit('unhandled rejection'));
}
