// `log-service token`: ask the server for an account token or a scoped token
// (GET /token). Needs the global token (--token / LOG_SERVICE_TOKEN). Prints
// the token on stdout, so it can go straight into a runner's environment.
import type { Command } from 'commander';
import { config as loadDotenv } from 'dotenv';
import { addConnectionOptions, clientFrom, CONNECTION_ENV_HELP, type ConnectionFlags } from './cli-connection.ts';
import { runAction, UsageError, writeStdout } from './cli-output.ts';

interface TokenFlags extends ConnectionFlags {
  account: string;
  key?: string;
  access?: string;
  ttl?: string;
}

export function registerTokenCommand(program: Command): void {
  // commander reads option env vars while parsing `token`'s options, after the
  // root's preSubcommand hook: load ./.env there, as the command groups do.
  program.hook('preSubcommand', (_root, sub) => {
    if (sub.name() === 'token') loadDotenv({ quiet: true });
  });
  addConnectionOptions(program.command('token'))
    .description('mint an account token, or one scoped to a key prefix for reading or writing (needs the global token)')
    .requiredOption('--account <id>', 'the account the token opens')
    .option('--key <prefix>', 'limit the token to keys under this prefix (with --access)')
    .option('--access <read|write>', 'read: tail, download, info; write: open, push, close, upload')
    .option('--ttl <seconds>', 'lifetime in seconds (server default: 48 h)')
    .addHelpText(
      'after',
      `
Examples:
  log-service token --account acme                                       # account token (Harness format)
  log-service token --account acme --key web/42 --access write --ttl 7200 # a runner's token for build 42
  log-service token --account acme --key web/42 --access read             # a viewer's token
${CONNECTION_ENV_HELP}`,
    )
    .action(
      runAction(
        () => 'token',
        async (flags: TokenFlags) => {
          if ((flags.key === undefined) !== (flags.access === undefined)) throw new UsageError('--key and --access go together');
          if (flags.access !== undefined && flags.access !== 'read' && flags.access !== 'write') {
            throw new UsageError('--access must be "read" or "write"');
          }
          const ttlSeconds = flags.ttl === undefined ? undefined : Number(flags.ttl);
          if (ttlSeconds !== undefined && (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1))
            throw new UsageError('--ttl must be a positive number of seconds');
          const token = await clientFrom(flags).mintToken({
            accountID: flags.account,
            key: flags.key,
            access: flags.access as 'read' | 'write' | undefined,
            ttlSeconds,
          });
          await writeStdout(`${token}\n`);
        },
      ),
    );
}
