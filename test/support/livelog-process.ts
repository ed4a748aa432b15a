// The real `log-service livelog` executable on ports the OS picks
// (LIVELOG_PUT_PORT=0, LIVELOG_GET_PORT=0): the ports are read from its
// "livelog: PUT port N, GET port M" line on stdout. livelog's variables from
// the developer's shell are not inherited; the test names each one it wants.
import { startCli, waitFor, type RunningCli } from './cli-process.ts';

export interface LivelogProcess {
  cli: RunningCli;
  putPort: number;
  getPort: number;
  /** The producer's URL (`PUT /log`). */
  putUrl: string;
  /** The readers' URL (`/log/<token>`), http or https. */
  getUrl: string;
  /** SIGTERM, and the exit code. */
  stop(): Promise<number | null>;
}

const LIVELOG_VARIABLES = ['ACCESS_TOKEN', 'SERVER_CRT_FILE', 'SERVER_KEY_FILE', 'DEBUG'];

/** The environment a livelog process gets: none of livelog's variables but those given. */
export function livelogEnv(env: Record<string, string>): Record<string, string> {
  const cleared: Record<string, string> = {};
  for (const name of [...LIVELOG_VARIABLES, ...Object.keys(process.env).filter((k) => k.startsWith('LIVELOG_'))]) cleared[name] = '';
  return { ...cleared, LIVELOG_PUT_PORT: '0', LIVELOG_GET_PORT: '0', LIVELOG_BIND_ADDRESS: '127.0.0.1', ...env };
}

export async function startLivelog(env: Record<string, string>, timeoutMs = 120_000): Promise<LivelogProcess> {
  const cli = startCli(['livelog'], { env: livelogEnv(env), timeoutMs });
  let ports: [number, number] | undefined;
  await waitFor(
    () => {
      const m = /livelog: PUT port (\d+), GET port (\d+)/.exec(cli.stdout().toString('utf8'));
      if (m !== null) ports = [Number(m[1]), Number(m[2])];
      return ports !== undefined || cli.child.exitCode !== null;
    },
    'livelog to listen',
    20_000,
  ).catch(() => undefined);
  if (ports === undefined) {
    cli.child.kill('SIGKILL');
    await cli.result;
    throw new Error(`livelog did not start: ${cli.stderr()}`);
  }
  const [putPort, getPort] = ports;
  const scheme = env.SERVER_CRT_FILE !== undefined && env.SERVER_CRT_FILE !== '' ? 'https' : 'http';
  return {
    cli,
    putPort,
    getPort,
    putUrl: `http://127.0.0.1:${putPort}/log`,
    getUrl: `${scheme}://127.0.0.1:${getPort}/log/${env.ACCESS_TOKEN ?? ''}`,
    async stop() {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGTERM');
      return (await cli.result).code;
    },
  };
}
