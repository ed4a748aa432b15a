// The `log-service` executable (DESIGN §2): commander program with one module
// per command group. Exit codes: 0 success, 1 server or network failure, 2 bad usage.
import { Command, CommanderError } from 'commander';
import { registerServerCommand } from './server-command.ts';
import { registerCistoreCommand } from './cistore-command.ts';
import { registerCistreamCommand } from './cistream-command.ts';
import { registerClientHelp } from './cli-connection.ts';
import { registerTokenCommand } from './token-command.ts';

const program = new Command('log-service')
  .description('CI build log service: live log streams over SSE, blob store, and the clients for both.')
  // Usage errors stay one line plus a pointer to --help (README: a failure is one line on stderr).
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerServerCommand(program);
registerCistoreCommand(program);
registerCistreamCommand(program);
registerTokenCommand(program);
registerClientHelp(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // help and version "errors" exit 0; usage errors exit 2 (commander prints the message)
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  throw err;
}
