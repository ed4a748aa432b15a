// A failed `cistream push` must not break the build that pipes into it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BIN, startServer, type ServerProcess } from './support/server-process.ts';

const run = promisify(execFile);

describe('log-service cistream push when the service fails', function () {
  this.timeout(60000);
  let server: ServerProcess;
  let dir: string;
  before(async () => {
    server = await startServer();
    dir = await mkdtemp(join(tmpdir(), 'logsvc-push-fail-'));
  });
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads stdin to its end so `make | tee build.log | log-service cistream push` keeps the build and its log whole, and exits 1', async () => {
    const log = join(dir, 'build.log');
    // The stream was never opened: the first batch fails with 404.
    const script = `seq 1 200000 | sed 's/^/line /' | tee ${log} | node ${BIN} cistream push p 1 s never-opened --server ${server.url}; echo "status=\${PIPESTATUS[*]}"`;
    const { stdout, stderr } = await run('bash', ['-c', script], { timeout: 50000 });
    assert.match(stdout, /status=0 0 0 1/, `the producer and tee must not die of a broken pipe; stderr: ${stderr}`);
    assert.match(stderr, /^log-service: .*LOGSVC_STREAM_NOT_FOUND/m);
    assert.equal((await readFile(log, 'utf8')).split('\n').length - 1, 200000, 'build.log is complete');
  });
});
