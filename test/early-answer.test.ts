// An answer given before the request body has arrived (413 over the push
// limit, 401 from the headers) reaches every client: the server reads and
// discards the rest of the body, bounded, instead of closing under a client
// that is still writing (handler/linger.ts). Fifty 9 MiB pushes from fetch,
// curl and a raw socket, against the real server.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startServer, type ServerProcess } from './support/server-process.ts';

const run = promisify(execFile);
const NINE_MIB = Buffer.alloc(9 * 1024 * 1024, 'x\n');
const GLOBAL = 'early-answer-global';

/** A raw HTTP/1.1 PUT: headers, then the body in 64 KiB writes; the whole answer as text. EPIPE/ECONNRESET reject. */
function rawPut(port: number, path: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (c: Buffer) => received.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(received).toString('latin1')));
    socket.on('connect', async () => {
      const head = Object.entries({ Host: `127.0.0.1:${port}`, 'Content-Length': String(NINE_MIB.length), Connection: 'close', ...headers })
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      socket.write(`PUT ${path} HTTP/1.1\r\n${head}\r\n`);
      for (let at = 0; at < NINE_MIB.length; at += 65536) {
        if (socket.destroyed) return;
        if (!socket.write(NINE_MIB.subarray(at, at + 65536))) await new Promise((r) => socket.once('drain', r));
      }
    });
  });
}

describe('answers given before the body has arrived', function () {
  this.timeout(180_000);
  let server: ServerProcess;
  let dir: string;
  let file: string;
  const push = (key: string) => `/stream?accountID=acct&key=early/${key}`;

  before(async () => {
    server = await startServer({ LOG_SERVICE_GLOBAL_TOKEN: GLOBAL, LOG_SERVICE_MAX_PUSH_BYTES: '8MiB' });
    for (const key of ['fetch', 'curl', 'raw']) {
      assert.equal((await fetch(`${server.url}${push(key)}`, { method: 'POST', headers: { 'X-Harness-Token': GLOBAL } })).status, 204);
    }
    dir = await mkdtemp(join(tmpdir(), 'early-answer-'));
    file = join(dir, 'nine-mib.txt');
    await writeFile(file, NINE_MIB);
  });
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('shows 413 and its JSON body to fetch, every time (20 pushes of 9 MiB)', async () => {
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${server.url}${push('fetch')}`, {
        method: 'PUT',
        headers: { 'X-Harness-Token': GLOBAL, 'Content-Type': 'text/plain' },
        body: NINE_MIB,
      });
      assert.equal(res.status, 413, `push ${i}`);
      assert.equal(((await res.json()) as { error_code: string }).error_code, 'LOGSVC_BODY_TOO_LARGE');
    }
  });

  it('shows 413 and its JSON body to curl, every time (15 pushes of 9 MiB)', async () => {
    for (let i = 0; i < 15; i++) {
      const { stdout } = await run(
        'curl',
        [
          '-sS',
          '-X',
          'PUT',
          '-H',
          `X-Harness-Token: ${GLOBAL}`,
          '-H',
          'Content-Type: text/plain',
          '--data-binary',
          `@${file}`,
          '-w',
          '\n%{http_code}',
          `${server.url}${push('curl')}`,
        ],
        { maxBuffer: 1 << 20 },
      );
      const [body, status] = stdout.split('\n');
      assert.equal(status, '413', `push ${i}: ${stdout}`);
      assert.equal((JSON.parse(body!) as { error_code: string }).error_code, 'LOGSVC_BODY_TOO_LARGE');
    }
  });

  it('shows 413 to a raw socket that writes the whole body, and 401 to one without a token (15 pushes of 9 MiB)', async () => {
    for (let i = 0; i < 15; i++) {
      const withToken = i % 3 !== 0;
      const answer = await rawPut(server.port, push('raw'), withToken ? { 'X-Harness-Token': GLOBAL } : {});
      const [status, code] = withToken ? ['413', 'LOGSVC_BODY_TOO_LARGE'] : ['401', 'LOGSVC_UNAUTHORIZED'];
      assert.match(answer, new RegExp(`^HTTP/1\\.1 ${status} `), `push ${i}: ${answer.slice(0, 200)}`);
      assert.ok(answer.includes(`"${code}"`), `push ${i}: ${answer.slice(0, 400)}`);
    }
  });
});
