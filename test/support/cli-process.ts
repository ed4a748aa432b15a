// Runs the real `log-service` executable for end-to-end tests, with a clean
// environment (no LOG_SERVICE_* from the developer's shell), a temporary
// working directory (no stray .env), stdin from the test, and a hard time limit.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { BIN, cleanEnv } from './server-process.ts';

export interface CliOptions {
  env?: Record<string, string>;
  /** Bytes for stdin, or a stream piped into it; stdin is closed (empty) when absent. */
  input?: string | Buffer | Readable;
  cwd?: string;
  /** Where stdout goes instead of being collected (for large outputs). */
  stdout?: Writable;
  /** Killed with SIGKILL after this long (default 30 s). */
  timeoutMs?: number;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  timedOut: boolean;
  /** Peak resident memory of the process in KiB (Linux /proc VmHWM, sampled every 50 ms); undefined elsewhere. */
  peakRssKb: number | undefined;
}

export interface RunningCli {
  child: ChildProcess;
  /** stdout so far. */
  stdout(): Buffer;
  /** stderr so far. */
  stderr(): string;
  result: Promise<CliResult>;
}

let scratch: string | undefined;
/** A directory without a .env, shared by runs that do not choose their own cwd. */
function scratchDir(): string {
  if (scratch === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'log-service-cli-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    scratch = dir;
  }
  return scratch;
}

export function startCli(args: string[], options: CliOptions = {}): RunningCli {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? scratchDir(),
    env: { ...cleanEnv(), LOG_SERVICE_RUN_SOURCES: '1', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  let err = '';
  if (options.stdout !== undefined) child.stdout.pipe(options.stdout, { end: false });
  else child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString('utf8');
  });
  child.stdin.on('error', () => undefined); // the CLI may exit before reading all of stdin
  if (options.input === undefined) child.stdin.end();
  else if (typeof options.input === 'string' || Buffer.isBuffer(options.input)) child.stdin.end(options.input);
  else options.input.pipe(child.stdin);

  let peakRssKb: number | undefined;
  const sampleMemory = (): void => {
    try {
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (hwm !== null) peakRssKb = Math.max(peakRssKb ?? 0, Number(hwm[1]));
    } catch {
      // not Linux, or the process is gone
    }
  };
  const sampler = setInterval(sampleMemory, 50);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs ?? 30_000);
  const result = new Promise<CliResult>((resolve) => {
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      clearInterval(sampler);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: err, timedOut, peakRssKb });
    });
  });
  return { child, stdout: () => Buffer.concat(out), stderr: () => err, result };
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return startCli(args, options).result;
}

/** Polls `condition` every 25 ms until it holds; fails after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
