// go-scribe / Log Streamer on the gRPC port (docs/SCRIBE.md §2), against the
// real server over real sockets. The requests are go-scribe's messages written
// by hand from their field numbers (test/support/protobuf-wire.ts) and sent
// with grpc-js raw calls, so this test shares nothing with the repo's .proto.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status, type Client, type ServiceError } from '@grpc/grpc-js';
import { mintAccountToken } from '../handler/account-token.ts';
import { decode, encode, int32, text } from './support/protobuf-wire.ts';
import { callError, callRaw, rawClient } from './support/raw-grpc.ts';
import { startTestServer, type TestServer } from './support/in-process-server.ts';

const GLOBAL = 'scribe-global-token';
const SECRET = 'scribe-secret';
const GO = '/com.romanostrechlis.scribe.api';
const AUTH = { authorization: `Bearer ${GLOBAL}` };

const logRequest = (path: string, filename: string, line: string) =>
  encode([
    [1, filename],
    [2, path],
    [3, line],
  ]);

function token(accountID: string, options: { ttl?: number; scope?: { access: 'read' | 'write'; keyPrefix: string } } = {}): string {
  return mintAccountToken(SECRET, { accountID, expiresAtSeconds: Math.floor(Date.now() / 1000) + (options.ttl ?? 600), scope: options.scope });
}

function logsvcCode(err: ServiceError): string | undefined {
  return err.metadata?.get('logsvc-code')[0]?.toString();
}

describe('go-scribe and Log Streamer over gRPC', function () {
  let server: TestServer;
  let client: Client;
  let scribeDir: string;

  before(async () => {
    scribeDir = mkdtempSync(join(tmpdir(), 'logsvc-scribe-grpc-'));
    server = await startTestServer({
      LOG_SERVICE_GRPC_BIND: '127.0.0.1:0',
      LOG_SERVICE_GLOBAL_TOKEN: GLOBAL,
      LOG_SERVICE_SECRET: SECRET,
      LOG_SERVICE_SCRIBE_DIR: scribeDir,
      LOG_SERVICE_SCRIBE_MAX_SIZE: '1KB',
    });
    client = rawClient(`127.0.0.1:${server.grpcPort}`);
  });
  after(async () => {
    client?.close();
    await server?.destroy();
    rmSync(scribeDir, { recursive: true, force: true });
  });

  async function storedOuts(name: string): Promise<string[]> {
    const outs: string[] = [];
    for await (const line of server.services.context.stream.lines(name)) {
      outs.push((JSON.parse(line.event.subarray(line.jsonStart, line.event.length - 2).toString()) as { out: string }).out);
    }
    return outs;
  }

  it('stores a Log line in stream <path>/<filename> and its file, and answers res "true" once both have it', async () => {
    const answer = decode(await callRaw(client, `${GO}.LogScribe/Log`, logRequest('app/web', 'server', 'hello'), AUTH));
    assert.equal(text(answer, 1), 'true');
    // The answer came after the write: the file and the stream have the line now.
    assert.equal(readFileSync(join(scribeDir, 'app/web/server.log'), 'utf8'), 'hello\n');
    assert.deepEqual(await storedOuts('default/app/web/server'), ['hello\n']);
    // A trailing slash on the path is go-scribe's habit, and means the same directory.
    await callRaw(client, `${GO}.LogScribe/Log`, logRequest('app/web/', 'server', 'again\n'), AUTH);
    assert.equal(readFileSync(join(scribeDir, 'app/web/server.log'), 'utf8'), 'hello\nagain\n');
  });

  it("serves Log Streamer's package api too: /api.LogStreamer/Log and /api.LogScribe/Log reach the same stream", async () => {
    await callRaw(client, '/api.LogStreamer/Log', logRequest('streamer', 'one', 'first'), AUTH);
    const answer = decode(await callRaw(client, '/api.LogScribe/Log', logRequest('streamer', 'one', 'second'), AUTH));
    assert.equal(text(answer, 1), 'true');
    assert.deepEqual(await storedOuts('default/streamer/one'), ['first\n', 'second\n']);
    assert.equal(readFileSync(join(scribeDir, 'streamer/one.log'), 'utf8'), 'first\nsecond\n');
  });

  it('answers Ping with a×b wrapped to int32 in field 2 and Register with "Success", in both packages, without a token', async () => {
    const ping = async (path: string, a: number, b: number) =>
      int32(
        decode(
          await callRaw(
            client,
            path,
            encode([
              [1, a],
              [2, b],
              [3, 'streamer-7'],
            ]),
          ),
        ),
        2,
      );
    assert.equal(await ping(`${GO}.Pinger/Ping`, 6, 7), 42);
    assert.equal(await ping('/api.Pinger/Ping', -7, 6), -42);
    assert.equal(await ping(`${GO}.Pinger/Ping`, 2 ** 30, 4), 0);
    assert.equal(await ping('/api.Pinger/Ping', 2 ** 30 + 1, 3), Math.imul(2 ** 30 + 1, 3));
    for (const path of [`${GO}.Register/Register`, '/api.Register/Register']) {
      const answer = decode(
        await callRaw(
          client,
          path,
          encode([
            [1, 'agent-id'],
            [2, '10.0.0.5:8080'],
          ]),
        ),
      );
      assert.equal(text(answer, 1), 'Success');
    }
  });

  it('answers CLIScribe with the version, the lines per stream, and the streams this instance wrote', async () => {
    await callRaw(client, `${GO}.LogScribe/Log`, logRequest('cli', 'a', 'one'), AUTH);
    await callRaw(client, `${GO}.LogScribe/Log`, logRequest('cli', 'a', 'two'), AUTH);
    const version = decode(await callRaw(client, `${GO}.CLIScribe/GetVersion`, encode([[1, true]])));
    const [first] = version.get(1) as Buffer[];
    const result = decode(first!);
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(int32(result, 1), 1, 'type SCRIBE');
    assert.equal(text(result, 3), pkg.version);
    assert.match(text(result, 2), /:\d+$/);

    const stats = decode(await callRaw(client, `${GO}.CLIScribe/GetStats`, Buffer.alloc(0), AUTH));
    const counts = new Map((stats.get(1) as Buffer[]).map((b) => decode(b)).map((r) => [text(r, 1), Number(r.get(2)?.[0] ?? 0n)]));
    assert.equal(counts.get('cli/a'), 2);
    assert.equal(counts.get('streamer/one'), 2);

    const resp = decode(await callRaw(client, `${GO}.CLIScribe/GetScribesResponsibility`, Buffer.alloc(0), AUTH));
    const keys = (resp.get(1) as Buffer[]).map((b) => text(decode(b), 2));
    assert.ok(keys.includes('cli/a') && keys.includes('app/web/server'), keys.join(','));
    assert.deepEqual(keys, [...keys].sort());
    // Stats need a token, as reading any log does.
    assert.equal((await callError(client, `${GO}.CLIScribe/GetStats`, Buffer.alloc(0))).code, status.UNAUTHENTICATED);
  });

  it('refuses a bad path or filename with INVALID_ARGUMENT and writes nothing', async () => {
    const before = readdirSync(scribeDir, { recursive: true }).length;
    const cases: [path: string, filename: string][] = [
      ['app', ''],
      ['', 'x'],
      ['..', 'x'],
      ['app/../../etc', 'x'],
      ['/etc', 'passwd'],
      ['app', '..'],
      ['app', 'a/b'],
      ['app', 'nul\u0000byte'],
      ['app//x', 'y'],
      ['./app', 'y'],
      ['a'.repeat(1100), 'y'],
      ['app', 'f'.repeat(201)],
    ];
    for (const [path, filename] of cases) {
      for (const service of [`${GO}.LogScribe/Log`, '/api.LogStreamer/Log']) {
        const err = await callError(client, service, logRequest(path, filename, 'never written'), AUTH);
        assert.equal(err.code, status.INVALID_ARGUMENT, `${JSON.stringify([path.slice(0, 20), filename.slice(0, 20)])}: ${err.details}`);
        assert.equal(logsvcCode(err), 'LOGSVC_INVALID_KEY');
      }
    }
    // A Log without any field at all (go-scribe panicked on an empty filename).
    assert.equal((await callError(client, `${GO}.LogScribe/Log`, Buffer.alloc(0), AUTH)).code, status.INVALID_ARGUMENT);
    assert.equal(readdirSync(scribeDir, { recursive: true }).length, before);
    // The server is still there.
    await callRaw(client, `${GO}.LogScribe/Log`, logRequest('app', 'alive', 'yes'), AUTH);
  });

  it('keeps each caller’s order in one file under 50 concurrent callers, rotating at 1KB without losing a line', async () => {
    const callers = 50;
    const each = 20;
    await Promise.all(
      Array.from({ length: callers }, async (_, c) => {
        for (let i = 0; i < each; i++) await callRaw(client, `${GO}.LogScribe/Log`, logRequest('busy', 'file', `c${c}-${i}`), AUTH);
      }),
    );
    const files = readdirSync(join(scribeDir, 'busy')).sort((a, b) => (a === 'file.log' ? 1 : b === 'file.log' ? -1 : a < b ? -1 : 1));
    assert.ok(files.length > 5, files.join(','));
    for (const f of files) assert.ok(statSync(join(scribeDir, 'busy', f)).size <= 1000, `${f} passed 1KB`);
    const lines = files
      .map((f) => readFileSync(join(scribeDir, 'busy', f), 'utf8'))
      .join('')
      .split('\n')
      .slice(0, -1);
    assert.equal(new Set(lines).size, callers * each);
    for (let c = 0; c < callers; c++) {
      const mine = lines.filter((l) => l.startsWith(`c${c}-`)).map((l) => Number(l.slice(l.indexOf('-') + 1)));
      assert.deepEqual(
        mine,
        Array.from({ length: each }, (_, i) => i),
      );
    }
    // The files hold the lines in the stream's order.
    assert.deepEqual(
      lines,
      (await storedOuts('default/busy/file')).map((out) => out.slice(0, -1)),
    );
  });

  it("puts a Log in the caller's account and refuses tokens that do not grant writing", async () => {
    await callRaw(client, `${GO}.LogScribe/Log`, logRequest('p', 'f', 'acme line'), { authorization: `Bearer ${token('acme')}` });
    assert.equal(readFileSync(join(scribeDir, '@acme/p/f.log'), 'utf8'), 'acme line\n');
    await callRaw(client, `${GO}.LogScribe/Log`, logRequest('p/ok', 'f', 'scoped'), {
      'x-harness-token': token('acme', { scope: { access: 'write', keyPrefix: 'p/ok' } }),
    });
    assert.equal(readFileSync(join(scribeDir, '@acme/p/ok/f.log'), 'utf8'), 'scoped\n');

    const refused: [Record<string, string>, status, string][] = [
      [{}, status.UNAUTHENTICATED, 'LOGSVC_UNAUTHORIZED'],
      [{ authorization: 'Bearer wrong' }, status.UNAUTHENTICATED, 'LOGSVC_FORBIDDEN'],
      [{ authorization: `Bearer ${token('acme', { ttl: -10 })}` }, status.UNAUTHENTICATED, 'LOGSVC_TOKEN_EXPIRED'],
      [{ authorization: `Bearer ${token('acme', { scope: { access: 'read', keyPrefix: '' } })}` }, status.PERMISSION_DENIED, 'LOGSVC_FORBIDDEN'],
      [{ authorization: `Bearer ${token('acme', { scope: { access: 'write', keyPrefix: 'other' } })}` }, status.PERMISSION_DENIED, 'LOGSVC_FORBIDDEN'],
    ];
    for (const [headers, code, catalogue] of refused) {
      const err = await callError(client, '/api.LogStreamer/Log', logRequest('denied', 'f', 'never'), headers);
      assert.equal(err.code, code, `${JSON.stringify(headers)}: ${err.details}`);
      assert.equal(logsvcCode(err), catalogue);
    }
    assert.throws(() => statSync(join(scribeDir, 'denied')), /ENOENT/);
    assert.throws(() => statSync(join(scribeDir, '@acme/denied')), /ENOENT/);
  });

  it('answers a file write that failed with UNAVAILABLE to that caller, and the next Log succeeds', async () => {
    // A file where the directory should be: the write fails whoever runs the test (root too).
    writeFileSync(join(scribeDir, 'jammed'), 'in the way');
    const err = await callError(client, `${GO}.LogScribe/Log`, logRequest('jammed', 'f', 'first'), AUTH);
    assert.equal(err.code, status.UNAVAILABLE, err.details);
    assert.equal(logsvcCode(err), 'LOGSVC_BACKEND_UNAVAILABLE');
    assert.match(err.details, /jammed\/f\.log/);
    rmSync(join(scribeDir, 'jammed'));
    await callRaw(client, `${GO}.LogScribe/Log`, logRequest('jammed', 'f', 'second'), AUTH);
    assert.equal(readFileSync(join(scribeDir, 'jammed/f.log'), 'utf8'), 'second\n');
  });

  it('writes lines pushed over HTTP to the same files', async () => {
    const base = `${server.url}/ci/web/42/test/unit/stream`;
    assert.equal((await fetch(base, { method: 'POST', headers: { 'X-Harness-Token': GLOBAL } })).status, 204);
    const push = await fetch(base, { method: 'PUT', headers: { 'X-Harness-Token': GLOBAL, 'Content-Type': 'text/plain' }, body: 'one\ntwo\n' });
    assert.equal(push.status, 204);
    assert.equal(readFileSync(join(scribeDir, 'web/42/test/unit.log'), 'utf8'), 'one\ntwo\n');
  });
});
