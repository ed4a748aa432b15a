// A failing S3 under snapshots and uploads (docs/BACKENDS.md §5, docs/PROTOCOL.md §5.3): S3
// with no room left is 507 LOGSVC_STORAGE_FULL, S3 down is 503 LOGSVC_BACKEND_UNAVAILABLE;
// either way a snapshot leaves its stream open with every line, and the same DELETE succeeds
// once S3 takes writes again. The real server process runs in front of a proxy to s3rver
// that can refuse writes as MinIO does when its drives are full. (A process, not an
// in-process server: under mocha's tsx loader the dynamically imported S3 store gets its
// own copy of foundation/errors.ts, and its ServiceErrors would not be recognised.)
import assert from 'node:assert/strict';
import http from 'node:http';
import { openRaw } from './support/raw-reader.ts';
import { startS3Recorder } from './support/s3-recorder.ts';
import { startS3rver, type S3rverHandle } from './support/s3rver.ts';
import { startServer, type ServerProcess } from './support/server-process.ts';

type Mode = 'pass' | 'full' | 'down';

interface FaultyS3 {
  endpoint: string;
  mode: Mode;
  close(): Promise<void>;
}

/** s3rver behind the recording proxy; in `full` mode writes get MinIO's 507, in `down` mode everything gets 503. */
async function startFaultyS3(target: string): Promise<FaultyS3> {
  const refuse = (res: http.ServerResponse, status: number, code: string, message: string) => {
    res.writeHead(status, { 'Content-Type': 'application/xml' });
    res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`);
  };
  let mode: Mode = 'pass';
  const proxy = await startS3Recorder(target, (req, res) => {
    const write = req.method === 'PUT' || req.method === 'POST';
    if (mode === 'pass' || (mode === 'full' && !write)) return false;
    req.resume();
    req.on('end', () =>
      mode === 'down'
        ? refuse(res, 503, 'ServiceUnavailable', 'Please reduce your request rate.')
        : refuse(res, 507, 'XMinioStorageFull', 'Storage backend has reached its minimum free drive threshold.'),
    );
    return true;
  });
  return {
    endpoint: proxy.endpoint,
    get mode() {
      return mode;
    },
    set mode(next: Mode) {
      mode = next;
    },
    close: () => proxy.close(),
  };
}

function errorCode(body: unknown): unknown {
  // The error body has error_code and no code field (docs/PROTOCOL.md §9.1).
  const b = body as { code?: unknown; error_code?: unknown };
  if (b.code !== undefined) throw new Error(`an error body with a code field: ${JSON.stringify(body)}`);
  return b.error_code;
}

describe('a failing S3 under snapshots and uploads', function () {
  this.timeout(60000);
  let s3: S3rverHandle;
  let faulty: FaultyS3;
  let server: ServerProcess;

  before(async () => {
    s3 = await startS3rver();
    faulty = await startFaultyS3(s3.endpoint);
    server = await startServer({
      LOG_SERVICE_S3_BUCKET: s3.bucket,
      LOG_SERVICE_S3_ENDPOINT: faulty.endpoint,
      LOG_SERVICE_S3_PATH_STYLE: 'true',
      LOG_SERVICE_S3_ACCESS_KEY_ID: s3.config.accessKeyId!,
      LOG_SERVICE_S3_SECRET_ACCESS_KEY: s3.config.secretAccessKey!,
    });
  });
  after(async () => {
    await server?.stop();
    await faulty?.close();
    await s3?.stop();
  });
  afterEach(() => {
    faulty.mode = 'pass';
  });

  it('answers an upload to a full S3 with 507 LOGSVC_STORAGE_FULL and stores nothing', async () => {
    faulty.mode = 'full';
    const res = await fetch(`${server.url}/ci/p/2/s/u/blob`, { method: 'PUT', body: 'does not fit' });
    assert.equal(res.status, 507);
    assert.equal(errorCode(await res.json()), 'LOGSVC_STORAGE_FULL');
    faulty.mode = 'pass';
    assert.equal((await fetch(`${server.url}/ci/p/2/s/u/blob`, { method: 'HEAD' })).status, 404);
  });

  it('leaves the stream open with every line when S3 is full (507) or down (503), and the same DELETE succeeds once S3 is back', async () => {
    const stream = `${server.url}/ci/p/2/s/t/stream`;
    assert.equal((await fetch(stream, { method: 'POST' })).status, 204);
    let text = '';
    for (let i = 0; i < 500; i++) text += `line ${i}\n`;
    assert.equal((await fetch(stream, { method: 'PUT', body: text, headers: { 'Content-Type': 'text/plain' } })).status, 204);
    const tail = await openRaw(`${server.url}/ci/p/2/s/t/raw`);
    try {
      for (const [mode, status, code] of [
        ['full', 507, 'LOGSVC_STORAGE_FULL'],
        ['down', 503, 'LOGSVC_BACKEND_UNAVAILABLE'],
      ] as const) {
        faulty.mode = mode;
        const refused = await fetch(`${stream}?snapshot=true`, { method: 'DELETE' });
        assert.equal(refused.status, status, mode);
        assert.equal(errorCode(await refused.json()), code);
        faulty.mode = 'pass';
        // Still open: a push is taken, and the tail that was open all along has every line and goes on.
        const more = `after the ${mode} failure\n`;
        assert.equal((await fetch(stream, { method: 'PUT', body: more, headers: { 'Content-Type': 'text/plain' } })).status, 204, mode);
        text += more;
        await tail.until((got) => got.length >= text.length, 5000);
        assert.equal(tail.text(), text);
        assert.equal(tail.done(), false);
      }
      const closed = await fetch(`${stream}?snapshot=true`, { method: 'DELETE' });
      assert.equal(closed.status, 204, await closed.text());
      await tail.ended(5000);
    } finally {
      tail.close();
    }
    const snapshot = await fetch(`${server.url}/ci/p/2/s/t/blob`);
    assert.equal(snapshot.status, 200);
    const rows = (await snapshot.text())
      .trimEnd()
      .split('\n')
      .map((row) => JSON.parse(row) as { out: string });
    assert.equal(rows.map((r) => r.out).join(''), text);
  });
});
