// The environment as a source of client options, read only when asked for
// (`LogServiceClient.fromEnv()`, `clientOptionsFromEnv()`): the constructor
// uses what it is given and nothing else. The names are the CLI's, so a
// pipeline step sets them once for both.
import type { LogServiceClientOptions } from './types.ts';

/** Where `fromEnv` reads from: `process.env`, or any map of variable names to values. */
export type ClientEnvironment = Readonly<Record<string, string | undefined>>;

/**
 * Options from `LOG_SERVICE_SERVER` and `LOG_SERVICE_TOKEN`, with `overrides` winning.
 *
 * The token from the environment goes only with the server from the
 * environment: when `overrides` names a server, `LOG_SERVICE_TOKEN` is not
 * used (pass `token` in `overrides` too), so a token never goes to a server it
 * was not set for. Without a server anywhere the client's default
 * (http://127.0.0.1:8079) applies, and the environment's token goes with it.
 * Empty variables count as unset.
 */
export function clientOptionsFromEnv(env: ClientEnvironment = process.env, overrides: LogServiceClientOptions = {}): LogServiceClientOptions {
  const options: LogServiceClientOptions = { ...overrides };
  const envServer = nonEmpty(env.LOG_SERVICE_SERVER);
  const envToken = nonEmpty(env.LOG_SERVICE_TOKEN);
  if (overrides.server === undefined) {
    if (envServer !== undefined) options.server = envServer;
    if (overrides.token === undefined && envToken !== undefined) options.token = envToken;
  }
  return options;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
