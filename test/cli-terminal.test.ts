// What the CLI shows on a terminal: progress bars on stderr for uploads and
// downloads, and a table for `cistream info`. util-linux `script` gives the
// CLI a real pseudo-terminal; stdout is redirected to a file inside it where
// the test needs the data bytes apart from the bar.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BIN, cleanEnv, startServer, type ServerProcess } from './support/server-process.ts';

const run = promisify(execFile);

function haveScript(): boolean {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Runs `log-service <args>` under a pseudo-terminal; returns what the terminal showed. */
async function onTerminal(args: string, env: Record<string, string>): Promise<string> {
  const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} ${args}`;
  const { stdout } = await run('script', ['-qec', command, '/dev/null'], { env: { ...cleanEnv(), ...env }, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

describe('log-service CLI on a terminal', function () {
  this.timeout(90_000);
  let server: ServerProcess;
  let dir: string;
  before(async function () {
    if (!haveScript()) {
      if (process.env.CI === 'true') throw new Error('util-linux "script" is needed for the terminal tests (apt-get install -y bsdutils)');
      console.warn('\n  !!! SKIPPING terminal tests: util-linux "script" is not installed\n');
      this.skip();
    }
    server = await startServer();
    dir = mkdtempSync(join(tmpdir(), 'cli-terminal-'));
  });
  after(async () => {
    await server?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('draws a progress bar on stderr for an upload and a download, and keeps the data bytes clean', async () => {
    const file = join(dir, 'up.bin');
    const bytes = Buffer.alloc(8 * 1024 * 1024, 'log line\n');
    writeFileSync(file, bytes);
    const env = { LOG_SERVICE_SERVER: server.url };
    const up = await onTerminal(`cistore upload web 7 test unit ${file}`, env);
    assert.match(up, /upload web\/7\/test\/unit .*100% 8\.0 MiB\/8\.0 MiB/, 'the bar reaches 100 % of the known size');
    const out = join(dir, 'down.bin');
    const down = await onTerminal(`cistore download web 7 test unit > ${out}`, env);
    assert.match(down, /download web\/7\/test\/unit .*8\.0 MiB/);
    assert.ok(readFileSync(out).equals(bytes), 'stdout holds exactly the blob: the bar went to stderr');
  });

  it('prints cistream info as a table with a header on a terminal', async () => {
    const env = { LOG_SERVICE_SERVER: server.url };
    assert.equal((await fetch(`${server.url}/ci/web/7/test/table/stream`, { method: 'POST' })).status, 204);
    await fetch(`${server.url}/ci/web/7/test/table/stream`, { method: 'PUT', headers: { 'Content-Type': 'text/plain' }, body: 'a\nb\n' });
    const shown = await onTerminal('cistream info web/7/', env);
    const rows = shown
      .replace(/\r/g, '')
      .split('\n')
      .filter((l) => l !== '');
    assert.match(rows[0] ?? '', /^KEY\s+PUSHED\s+HELD\s+VIEWERS\s+TTL$/);
    assert.match(rows[1] ?? '', /^web\/7\/test\/table\s+2\s+2\s+0\s+\S+/);
  });
});
