// The `log-service` executable (docs/ARCHITECTURE.md §1): commander program with one module
// per command group. Exit codes: 0 success, 1 server or network failure, 2 bad usage.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';

type Registrar = (program: Command) => void;

/**
 * The commands that run a server, loaded alone when they are the one asked
 * for: `log-service server` then never loads the client, undici or the CLI's
 * progress bars (issue 18 §3: memory at rest). Anything else loads every
 * command, in the order --help lists them.
 */
const SERVER_COMMANDS: Record<string, () => Promise<Registrar>> = {
  server: async () => (await import('./server-command.ts')).registerServerCommand,
  tailsrv: async () => (await import('./tailsrv-command.ts')).registerTailsrvCommand,
  scribe: async () => (await import('./scribe-command.ts')).registerScribeCommand,
  livelog: async () => (await import('./livelog-command.ts')).registerLivelogCommand,
};

async function registrars(command: string | undefined): Promise<Registrar[]> {
  if (command !== undefined && Object.hasOwn(SERVER_COMMANDS, command)) return [await SERVER_COMMANDS[command]!()];
  const [server, cistore, cistream, token, tailsrv, scribe, livelog, connection] = await Promise.all([
    import('./server-command.ts'),
    import('./cistore-command.ts'),
    import('./cistream-command.ts'),
    import('./token-command.ts'),
    import('./tailsrv-command.ts'),
    import('./scribe-command.ts'),
    import('./livelog-command.ts'),
    import('./cli-connection.ts'),
  ]);
  return [
    server.registerServerCommand,
    cistore.registerCistoreCommand,
    cistream.registerCistreamCommand,
    token.registerTokenCommand,
    tailsrv.registerTailsrvCommand,
    scribe.registerScribeCommand,
    livelog.registerLivelogCommand,
    connection.registerClientHelp,
  ];
}

/**
 * The version in the package's package.json, read when the program runs: the first
 * package.json named "log-service" above this file (cmd/ in a checkout, build/cmd/
 * when compiled), wherever the package is installed.
 */
function packageVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)), up = 0; up < 4; dir = dirname(dir), up++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'log-service' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // no package.json here: one level up
    }
  }
  return 'unknown';
}

const program = new Command('log-service')
  .description('CI build log service: live log streams over SSE, blob store, and the clients for both.')
  .version(packageVersion(), '-V, --version', 'print the version of log-service')
  .exitOverride()
  // A failure is one line on stderr (README), commander's usage errors too:
  // "log-service: <what is wrong> (see --help)", the same prefix as our own.
  .configureOutput({ outputError: (text, write) => write(`${usageLine(text)}\n`) });

function usageLine(text: string): string {
  const message = text
    .trim()
    .replace(/^error:\s*/, '')
    .replace(/^log-service:\s*/, '')
    .replace(/\s*[\r\n]+\s*/g, ' ');
  return `log-service: ${message} (see --help)`;
}

for (const register of await registrars(process.argv[2])) register(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // help and version "errors" exit 0; usage errors exit 2 (commander prints the message)
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  throw err;
}
