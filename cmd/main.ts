// The `log-service` executable (docs/ARCHITECTURE.md §1): commander program with one module
// per command group. Exit codes: 0 success, 1 server or network failure, 2 bad usage.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { registerServerCommand } from './server-command.ts';
import { registerCistoreCommand } from './cistore-command.ts';
import { registerCistreamCommand } from './cistream-command.ts';
import { registerClientHelp } from './cli-connection.ts';
import { registerTokenCommand } from './token-command.ts';

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
