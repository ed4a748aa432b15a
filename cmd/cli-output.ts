// What the client commands print, and how they end. Exit codes (cmd/main.ts):
// 0 success, 1 server or network failure, 2 bad usage. A failure is one line
// on stderr, `log-service: <what> (<code>)`, never a stack trace; stdout carries
// only the command's output (log text, a blob, a link), so it can be piped.
import { CommanderError, type Command } from 'commander';
import { errnoOf } from '../client/http-transport.ts';
import { LogServiceError } from '../client/log-service-error.ts';

/** Bad usage found after parsing (an invalid ID, a missing file): exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * Wraps a command action: usage errors go through commander (message, help,
 * exit 2); every other failure becomes one stderr line and exit code 1.
 * `describe` names what the command worked on ("blob p/b/s/t") for messages.
 */
export function runAction<A extends unknown[]>(
  describe: (...args: NoInfer<A>) => string,
  action: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const command = args[args.length - 1] as Command;
    try {
      await action(...args);
    } catch (err) {
      if (err instanceof CommanderError) throw err;
      if (err instanceof UsageError) command.error(`log-service: ${err.message}`, { exitCode: 2, code: 'log-service.usage' });
      let target = '';
      try {
        target = describe(...args);
      } catch {
        // the description itself failed (bad arguments): the error line still says what went wrong
      }
      process.stderr.write(`log-service: ${failureLine(err, target)}\n`);
      process.exitCode = 1;
    }
  };
}

/** One line saying what failed, for a person reading a CI log. */
export function failureLine(err: unknown, target: string): string {
  const on = target === '' ? '' : `${target}: `;
  if (err instanceof LogServiceError) {
    const detail = stripRequest(err);
    switch (true) {
      case err.status === 404:
        return oneLine(`not found: ${target === '' ? detail : target} (${err.code})`);
      case err.code === 'LOGSVC_NETWORK':
        return oneLine(`cannot reach ${origin(err.url)}: ${detail.replace(/ \([A-Z_]+\)$/, '')} (${err.code})`);
      case err.code === 'LOGSVC_TIMEOUT':
        return oneLine(`timed out: ${on}${detail} (${err.code})`);
      case err.code === 'LOGSVC_UNAUTHORIZED':
        return oneLine(`${on}${detail}; pass --token or set LOG_SERVICE_TOKEN (${err.code})`);
      default:
        return oneLine(`${on}${detail} (${err.code})`);
    }
  }
  const errno = errnoOf(err);
  const message = err instanceof Error ? err.message : String(err);
  return oneLine(errno !== undefined && !message.includes(errno) ? `${message} (${errno})` : message);
}

/** The client prefixes client-side failures with "METHOD url: "; the CLI says the target instead. */
function stripRequest(err: LogServiceError): string {
  const prefix = err.method !== undefined && err.url !== undefined ? `${err.method} ${err.url}: ` : '';
  return prefix !== '' && err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
}

function origin(url: string | undefined): string {
  if (url === undefined) return 'the server';
  try {
    const parsed = new URL(url);
    // grpc:// is no special scheme: its URL has no origin ("null"), so it is said as scheme and host.
    return parsed.origin === 'null' ? `${parsed.protocol}//${parsed.host}` : parsed.origin;
  } catch {
    return url;
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ');
}

/**
 * Writes to stdout with backpressure. A closed pipe (`… | head`) is not a
 * failure of ours: the reader has what it wanted, so we exit quietly.
 */
export function writeStdout(chunk: string | Uint8Array): Promise<void> {
  if (process.stdout.write(chunk)) return Promise.resolve();
  return new Promise((resolve) => process.stdout.once('drain', resolve));
}

let pipeGuard = false;
export function exitQuietlyOnClosedStdout(): void {
  if (pipeGuard) return;
  pipeGuard = true;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    process.stderr.write(`log-service: cannot write to stdout: ${err.message}\n`);
    process.exit(1);
  });
}

/** A table for people (a TTY); tab-separated lines without a header for scripts. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[], forTerminal: boolean): string {
  if (!forTerminal) return rows.map((row) => `${row.join('\t')}\n`).join('');
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const render = (row: readonly string[]): string =>
    row
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [header, ...rows].map((row) => `${render(row)}\n`).join('');
}
