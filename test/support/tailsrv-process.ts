// The real `log-service tailsrv` executable on a port the OS picks (-p 0): the
// port is read from its "tailsrv listening" log line.
import { startCli, waitFor, type RunningCli } from './cli-process.ts';

export interface TailsrvProcess {
  cli: RunningCli;
  port: number;
  /** SIGTERM, and the exit code. */
  stop(): Promise<number | null>;
}

export async function startTailsrv(args: string[]): Promise<TailsrvProcess> {
  const cli = startCli(['tailsrv', ...args, '-p', '0'], { timeoutMs: 60_000 });
  let port = 0;
  const waited = waitFor(
    () => {
      const m = /"port":(\d+),[^\n]*"msg":"tailsrv listening"/.exec(cli.stdout().toString('utf8'));
      if (m !== null) port = Number(m[1]);
      return port !== 0 || cli.child.exitCode !== null;
    },
    'tailsrv to listen',
    20_000,
  );
  await waited.catch(() => undefined);
  if (port === 0) {
    cli.child.kill('SIGKILL');
    await cli.result;
    throw new Error(`tailsrv did not start: ${cli.stderr()}`);
  }
  return {
    cli,
    port,
    async stop() {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGTERM');
      return (await cli.result).code;
    },
  };
}
