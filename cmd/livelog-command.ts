// `log-service livelog`: taskcluster livelog's interface (docs/LIVELOG.md) —
// its environment variables, ports and exit codes — on the log service's
// streams, archive and blob store (app/livelog.ts). Exit codes: 0 on
// SIGTERM/SIGINT after a clean stop (the temporary directory removed), 1 when
// it cannot start (ACCESS_TOKEN missing, TLS half set, a bad setting), and
// livelog's own for a bad port: 64/65 LIVELOG_PUT_PORT not a number / out of
// range, 66/67 the same for LIVELOG_GET_PORT.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ConfigError, loadConfig, readEnvironment, type Config } from '../foundation/config.ts';
import { exitOnStrayErrors } from './server-command.ts';

const DEFAULT_PUT_PORT = 60022;
const DEFAULT_GET_PORT = 60023;
/** The account a LIVELOG_ARCHIVE_KEY is stored under unless LIVELOG_ARCHIVE_ACCOUNT says otherwise (CI routes' global-token default). */
const DEFAULT_ACCOUNT = 'default';
/** Readers of one livelog process are one account: they may hold up to this many tails. */
const LIVELOG_READERS = '10000';
/** The longest a reader is served and a waiting log kept (the configuration's maximum: 7 days). */
const LIVELOG_LIFETIME_SECONDS = String(7 * 24 * 3600);

type Env = Record<string, string | undefined>;

export function registerLivelogCommand(program: Command): void {
  program
    .command('livelog')
    .description('run as taskcluster livelog: one PUT /log in on LIVELOG_PUT_PORT, GET /log/<ACCESS_TOKEN> out on LIVELOG_GET_PORT, by byte')
    .addHelpText(
      'after',
      `
Environment (livelog's own names):
  ACCESS_TOKEN            required: readers' URL is /log/<ACCESS_TOKEN>
  LIVELOG_PUT_PORT        the producer's port (default ${DEFAULT_PUT_PORT})
  LIVELOG_GET_PORT        the readers' port (default ${DEFAULT_GET_PORT})
  SERVER_CRT_FILE, SERVER_KEY_FILE   HTTPS on the readers' port (both or neither)
  LIVELOG_TEMP_DIR        where the bytes are kept (default the system's temp dir; removed on a clean exit)
  LIVELOG_BIND_ADDRESS    the interface both ports listen on (default every interface)
  LIVELOG_PUT_BIND_ADDRESS   the producer's port only (e.g. 127.0.0.1)
  LIVELOG_RANGE_MODE      rfc9110 (default) or legacy (the old livelog's Range answers)
  LIVELOG_ARCHIVE_KEY     <project/build/stage/step>: also store the finished log as that step's blob,
                          in the store the LOG_SERVICE_* settings name (LMDB or S3)
  DEBUG                   any value: debug logging

Example:
  ACCESS_TOKEN=$(openssl rand -hex 16) log-service livelog &
  curl -T build.log http://127.0.0.1:60022/log        # the producer (a long PUT)
  curl -N http://127.0.0.1:60023/log/$ACCESS_TOKEN    # any number of readers, from byte 0`,
    )
    .action(async () => {
      const env = readEnvironment(process.env, process.cwd());
      const fail = (message: string, code = 1): never => {
        process.stderr.write(`log-service livelog: ${message}\n`);
        process.exit(code);
      };
      const accessToken = env.ACCESS_TOKEN ?? '';
      if (accessToken === '') fail('ACCESS_TOKEN is not set: readers would need no token. Set it to a secret, url-safe string');
      const putPort = port(env, 'LIVELOG_PUT_PORT', DEFAULT_PUT_PORT, 64, fail);
      const getPort = port(env, 'LIVELOG_GET_PORT', DEFAULT_GET_PORT, 66, fail);
      const certFile = nonEmpty(env.SERVER_CRT_FILE);
      const keyFile = nonEmpty(env.SERVER_KEY_FILE);
      if ((certFile === undefined) !== (keyFile === undefined)) {
        fail(
          `${certFile === undefined ? 'SERVER_KEY_FILE' : 'SERVER_CRT_FILE'} is set without ${certFile === undefined ? 'SERVER_CRT_FILE' : 'SERVER_KEY_FILE'}: set both for HTTPS, or neither`,
        );
      }
      const rangeText = nonEmpty(env.LIVELOG_RANGE_MODE) ?? 'rfc9110';
      if (rangeText !== 'rfc9110' && rangeText !== 'legacy') fail(`LIVELOG_RANGE_MODE must be rfc9110 or legacy (got "${rangeText}")`);
      const rangeMode = rangeText as 'rfc9110' | 'legacy';
      const archiveKey = nonEmpty(env.LIVELOG_ARCHIVE_KEY);
      const account = nonEmpty(env.LIVELOG_ARCHIVE_ACCOUNT) ?? DEFAULT_ACCOUNT;
      const { startLivelog, archiveTargetProblem } = await import('../app/livelog.ts');
      if (archiveKey !== undefined) {
        const problem = archiveTargetProblem(account, archiveKey);
        if (problem !== undefined) fail(problem);
      }

      // The bytes live in a directory of our own inside LIVELOG_TEMP_DIR, removed on a clean exit.
      let tempDir: string;
      try {
        tempDir = mkdtempSync(join(nonEmpty(env.LIVELOG_TEMP_DIR) ?? tmpdir(), 'livelog-'));
      } catch (err) {
        return fail(`LIVELOG_TEMP_DIR: cannot create a directory there (${(err as Error).message})`);
      }
      const removeTemp = () => rmSync(tempDir, { recursive: true, force: true });
      let config: Config;
      try {
        config = loadConfig(livelogEnvironment(env, tempDir, archiveKey !== undefined));
      } catch (err) {
        removeTemp();
        if (!(err instanceof ConfigError)) throw err;
        return fail(err.message);
      }

      const { createLogger } = await import('../foundation/logger.ts');
      const log = createLogger(config.logLevel);
      exitOnStrayErrors(log);
      const bind = nonEmpty(env.LIVELOG_BIND_ADDRESS);
      let running;
      try {
        running = await startLivelog(
          {
            accessToken,
            putPort,
            getPort,
            putHost: nonEmpty(env.LIVELOG_PUT_BIND_ADDRESS) ?? bind,
            getHost: bind,
            tls: certFile === undefined ? undefined : { certFile, keyFile: keyFile! },
            rangeMode,
            name: `${archiveKey === undefined ? 'livelog' : account}/${archiveKey ?? 'log'}`,
            key: archiveKey ?? 'log',
          },
          config,
          log,
        );
      } catch (err) {
        removeTemp();
        return fail(`cannot start: ${(err as Error).message}`);
      }
      // One line on stdout with the ports, for workers that start it on port 0.
      process.stdout.write(`livelog: PUT port ${running.putPort}, GET port ${running.getPort}\n`);
      const stopped = running;
      const onSignal = (signal: string) => {
        log.info({ signal }, 'signal received');
        stopped.stop().then(
          () => {
            removeTemp();
            process.exit(0);
          },
          (err: unknown) => {
            log.error({ err }, 'shutdown failed');
            removeTemp();
            process.exit(1);
          },
        );
      };
      process.once('SIGTERM', () => onSignal('SIGTERM'));
      process.once('SIGINT', () => onSignal('SIGINT'));
    });
}

/**
 * The service's settings for one livelog process: memory streams, the archive
 * and finished log in an LMDB file in the temp dir (or, with an archive key,
 * in the store LOG_SERVICE_* names), readers never cut off for their age.
 */
function livelogEnvironment(env: Env, tempDir: string, archived: boolean): Env {
  const own: Env = {
    ...env,
    LOG_SERVICE_REDIS_URL: undefined,
    LOG_SERVICE_TAIL_MAX_SECONDS: LIVELOG_LIFETIME_SECONDS,
    LOG_SERVICE_MAX_TAILS_PER_ACCOUNT: LIVELOG_READERS,
    LOG_SERVICE_LOG_LEVEL: env.DEBUG !== undefined && env.DEBUG !== '' ? 'debug' : (env.LOG_SERVICE_LOG_LEVEL ?? 'info'),
  };
  if (!archived) {
    own.LOG_SERVICE_LMDB_PATH = join(tempDir, 'blobs.lmdb');
    own.LOG_SERVICE_S3_BUCKET = undefined;
  }
  return own;
}

function port(env: Env, name: string, fallback: number, exitBase: number, fail: (message: string, code?: number) => never): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  if (!/^[+-]?\d+$/.test(text.trim())) fail(`${name} is not a number (${text})`, exitBase);
  const value = Number(text.trim());
  if (value < 0 || value > 65535) fail(`${name} is not between [0, 65535] (${value})`, exitBase + 1);
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
