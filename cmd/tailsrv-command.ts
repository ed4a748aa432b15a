// `log-service tailsrv`: files over tailsrv's TCP protocol (docs/TAILSRV.md §1).
//   log-service tailsrv --dir DIR -p PORT    the multi-file grammar (list, stream <path> from …)
//   log-service tailsrv FILE -p PORT         tailsrv's single-file form (a signed decimal header)
// Exit codes: 0 on SIGTERM/SIGINT, and in the single-file form once the file is
// deleted or moved (without --linger-after-file-is-gone); 1 when it cannot
// start; 2 on bad usage.
import type { Command } from 'commander';
import type { FileSource } from '../tailsrv/file-server.ts';
import { UsageError } from './cli-output.ts';

interface TailsrvFlags {
  dir?: string;
  port: string;
  bind: string;
  lingerAfterFileIsGone?: boolean;
  logLevel: string;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
type LogLevel = (typeof LOG_LEVELS)[number];

/** How long clients get to take their last bytes when the server stops. */
const STOP_GRACE_MS = 5000;

export function registerTailsrvCommand(program: Command): void {
  program
    .command('tailsrv')
    .description("serve files over tailsrv's TCP protocol: a client sends one header line and receives the bytes, then every append")
    .argument('[file]', "one file, with tailsrv's single-file header (0 whole file, N from byte N, -N the last N bytes)")
    .option('--dir <dir>', 'serve the files under this directory: "list", "stream <path> [from byte N|-N|line N|start|end]"')
    .requiredOption('-p, --port <port>', 'TCP port (0: any free port, logged at start)')
    .option('--bind <host>', 'address to listen on (0.0.0.0: every interface)', '127.0.0.1')
    .option('--linger-after-file-is-gone', 'keep the clients of a deleted or moved file connected (and keep running)')
    .option('--log-level <level>', `one of ${LOG_LEVELS.join(', ')}`, 'info')
    .addHelpText(
      'after',
      `
Examples:
  log-service tailsrv --dir /var/log/ci -p 4321
  echo list | nc -N 127.0.0.1 4321
  echo 'stream build/42.log from byte -1000' | nc -N 127.0.0.1 4321
  log-service tailsrv build.log -p 4321 &  echo 0 | nc -N 127.0.0.1 4321`,
    )
    .action(async (file: string | undefined, flags: TailsrvFlags, command: Command) => {
      let source: FileSource;
      let port: number;
      try {
        if ((file === undefined) === (flags.dir === undefined)) throw new UsageError('give either a FILE or --dir DIR');
        source = file !== undefined ? { kind: 'file', file } : { kind: 'directory', dir: flags.dir! };
        port = Number(flags.port);
        if (!/^\d{1,5}$/.test(flags.port) || port > 65535) throw new UsageError(`--port must be 0-65535 (got "${flags.port}")`);
        if (!(LOG_LEVELS as readonly string[]).includes(flags.logLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
      } catch (err) {
        command.error(`log-service: ${(err as Error).message}`, { exitCode: 2, code: 'log-service.usage' });
      }
      // Loaded here, not at the top: the other commands should not pay for the server stack.
      const { createLogger } = await import('../foundation/logger.ts');
      const { startFileServer } = await import('../tailsrv/file-server.ts');
      const log = createLogger(flags.logLevel as LogLevel);
      let server;
      try {
        server = await startFileServer({ source, host: flags.bind, port, linger: flags.lingerAfterFileIsGone === true, log });
      } catch (err) {
        process.stderr.write(`log-service: tailsrv cannot start: ${(err as Error).message}\n`);
        process.exit(1);
      }
      const running = server;
      const stopAndExit = () => {
        running.stop(STOP_GRACE_MS).then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGTERM', stopAndExit);
      process.once('SIGINT', stopAndExit);
      // The single-file form ends with its file (tailsrv's behaviour), unless it lingers.
      void running.fileGone.then(stopAndExit);
    });
}
