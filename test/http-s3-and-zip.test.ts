// The service on the S3 store (s3rver over HTTP), and zip downloads of a whole
// build on both stores (docs/PROTOCOL.md §2.1, docs/BACKENDS.md).
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from './support/in-process-server.ts';
import { startS3rver, type S3rverHandle } from './support/s3rver.ts';
import { lineEvents, openSse } from './support/sse-reader.ts';
import { unzip } from './support/unzip.ts';

function s3Env(s3: S3rverHandle): Record<string, string> {
  return {
    LOG_SERVICE_S3_BUCKET: s3.bucket,
    LOG_SERVICE_S3_ENDPOINT: s3.endpoint,
    LOG_SERVICE_S3_PATH_STYLE: 'true',
    LOG_SERVICE_S3_ACCESS_KEY_ID: s3.config.accessKeyId!,
    LOG_SERVICE_S3_SECRET_ACCESS_KEY: s3.config.secretAccessKey!,
    LOG_SERVICE_S3_PREFIX: 'svc/',
  };
}

async function uploadBuild(url: string, build: string): Promise<void> {
  for (const [step, text] of [
    ['compile/make', 'make all\n'],
    ['compile/lint', 'lint ok\n'],
    ['test/unit', 'ok 1\nok 2\n'],
  ] as const) {
    const res = await fetch(`${url}/ci/proj/${build}/${step}/blob`, { method: 'PUT', body: text });
    assert.equal(res.status, 204);
  }
  await fetch(`${url}/ci/proj/${build}-other/x/y/blob`, { method: 'PUT', body: 'not in the zip' });
}

const expectedEntries = new Map([
  ['compile/lint', 'lint ok\n'],
  ['compile/make', 'make all\n'],
  ['test/unit', 'ok 1\nok 2\n'],
]);

function assertBuildZip(entries: Map<string, Buffer>): void {
  assert.deepEqual([...entries.keys()].sort(), [...expectedEntries.keys()]);
  for (const [name, text] of expectedEntries) assert.equal(entries.get(name)?.toString(), text, name);
}

async function pollZip(url: string, prefix: string): Promise<{ link: string; status: string; expires: string }> {
  const deadline = Date.now() + 20000;
  for (;;) {
    const res = await fetch(`${url}/blob/download?accountID=default&prefix=${encodeURIComponent(prefix)}`, { method: 'POST' });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { link: string; status: string; expires: string };
    assert.ok(['queued', 'in_progress', 'success'].includes(body.status), JSON.stringify(body));
    if (body.status === 'success') return body;
    assert.ok(Date.now() < deadline, 'zip export did not finish in 20 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the service on S3 (s3rver)', function () {
  this.timeout(60000);
  let s3: S3rverHandle;
  let server: TestServer;
  before(async () => {
    s3 = await startS3rver();
    server = await startTestServer({
      ...s3Env(s3),
      LOG_SERVICE_STREAM_CLOSED_GRACE_SECONDS: '0',
      LOG_SERVICE_MAX_BLOB_BYTES: '20MiB',
      LOG_SERVICE_LINK_EXPIRY_SECONDS: '900',
    });
  });
  after(async () => {
    await server?.destroy();
    await s3?.stop();
  });

  it('reports the S3 store ready', async () => {
    assert.equal((await fetch(`${server.url}/ready/healthz`)).status, 200);
  });

  it('uploads, downloads with ranges, and deletes blobs over HTTP', async () => {
    const url = `${server.url}/blob?accountID=acct&key=a/b.log`;
    assert.equal((await fetch(url, { method: 'PUT', body: '0123456789' })).status, 204);
    const res = await fetch(url, { headers: { Range: 'bytes=-3' } });
    assert.equal(res.status, 206);
    assert.equal(res.headers.get('content-range'), 'bytes 7-9/10');
    assert.equal(await res.text(), '789', 'the suffix range is resolved by our code, not by s3rver');
    assert.equal((await fetch(url, { method: 'DELETE' })).status, 204);
    assert.equal((await fetch(url)).status, 404);
  });

  it('answers a streamed upload over the blob limit with 413 and stores nothing', async () => {
    const url = `${server.url}/blob?accountID=acct&key=too/big`;
    const res = await fetch(url, {
      method: 'PUT',
      duplex: 'half',
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 24; i++) c.enqueue(new Uint8Array(1024 * 1024));
          c.close();
        },
      }),
    } as RequestInit);
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { error_code: string }).error_code, 'LOGSVC_BODY_TOO_LARGE');
    assert.equal((await fetch(url)).status, 404);
  });

  it('hands out S3 presigned links that work with plain fetch, expires in nanoseconds', async () => {
    const up = (await (await fetch(`${server.url}/ci/p/1/s/t/blob/link/upload`, { method: 'POST' })).json()) as { link: string; expires: number };
    assert.match(up.link, new RegExp(`^${s3.endpoint}/${s3.bucket}/svc/default/p/1/s/t\\?.*X-Amz-Signature=`));
    assert.equal(up.expires, 900e9, 'LOG_SERVICE_LINK_EXPIRY_SECONDS, in nanoseconds');
    assert.equal(new URL(up.link).searchParams.get('X-Amz-Expires'), '900', 'the presigned URL itself carries the configured expiry');
    assert.equal((await fetch(up.link, { method: 'PUT', body: 'presigned upload' })).status, 200);
    const down = (await (await fetch(`${server.url}/ci/p/1/s/t/blob/link/download`, { method: 'POST' })).json()) as { link: string };
    assert.equal(await (await fetch(down.link)).text(), 'presigned upload');
    assert.equal(await (await fetch(`${server.url}/ci/p/1/s/t/blob`)).text(), 'presigned upload');
  });

  it('snapshots a stream on close into S3 and serves the finished log from the blob on the same endpoint', async () => {
    const stream = `${server.url}/ci/p/2/s/t/stream`;
    await fetch(stream, { method: 'POST' });
    await fetch(stream, { method: 'PUT', body: 'one\ntwo\nthree\n', headers: { 'Content-Type': 'text/plain' } });
    assert.equal((await fetch(`${stream}?snapshot=true`, { method: 'DELETE' })).status, 204);
    const blob = await (await fetch(`${server.url}/ci/p/2/s/t/blob`)).text();
    assert.deepEqual(
      blob
        .trimEnd()
        .split('\n')
        .map((r) => (JSON.parse(r) as { out: string }).out),
      ['one\n', 'two\n', 'three\n'],
    );
    await new Promise((r) => setTimeout(r, 1200)); // closed-stream grace is 0 s; the sweeper runs each second
    const tail = await openSse(stream);
    await tail.ended();
    assert.deepEqual(
      lineEvents(tail.events()).map((e) => e.id),
      ['0', '1', '2'],
    );
    assert.ok(tail.raw().endsWith('event: eof\ndata: eof\n\n'));
    const resumed = await openSse(stream, { 'Last-Event-ID': '1' });
    await resumed.ended();
    assert.deepEqual(
      lineEvents(resumed.events()).map((e) => e.id),
      ['2'],
    );
  });

  it('streams a zip of a whole build from GET /ci/:project/:build/logs.zip', async () => {
    await uploadBuild(server.url, 'zip1');
    const res = await fetch(`${server.url}/ci/proj/zip1/logs.zip`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/zip');
    assertBuildZip(await unzip(Buffer.from(await res.arrayBuffer())));
  });

  it('writes the zip to S3 on POST /blob/download, going queued → success, and its presigned link fetches it', async () => {
    await uploadBuild(server.url, 'zip2');
    const done = await pollZip(server.url, 'proj/zip2/');
    assert.match(done.link, /X-Amz-Signature=/);
    const zip = await fetch(done.link);
    assert.equal(zip.status, 200);
    assertBuildZip(await unzip(Buffer.from(await zip.arrayBuffer())));
  });

  it('treats a POST /blob/download prefix without a trailing slash as a folder (no sibling builds in the zip)', async () => {
    await uploadBuild(server.url, 'zip3');
    const done = await pollZip(server.url, 'proj/zip3');
    assertBuildZip(await unzip(Buffer.from(await (await fetch(done.link)).arrayBuffer())));
  });

  it('answers 404 for a zip of a build with no blobs', async () => {
    const harness = await fetch(`${server.url}/blob/download?accountID=default&prefix=proj/nothing-here/`, { method: 'POST' });
    assert.equal(harness.status, 404, 'on S3 too, at once rather than as a failed status later');
    assert.equal(((await harness.json()) as { error_code: string }).error_code, 'LOGSVC_BLOB_NOT_FOUND');
    const res = await fetch(`${server.url}/ci/proj/nothing-here/logs.zip`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error_code: string }).error_code, 'LOGSVC_BLOB_NOT_FOUND');
  });
});

describe('zip downloads on the LMDB store', function () {
  this.timeout(30000);
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ LOG_SERVICE_ZIP_MAX_ENTRIES: '3' });
  });
  after(async () => server.destroy());

  it('streams a zip of a whole build with entry names relative to the build', async () => {
    await uploadBuild(server.url, 'b1');
    const res = await fetch(`${server.url}/ci/proj/b1/logs.zip`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-disposition')!, /attachment; filename="proj-b1-logs.zip"/);
    assertBuildZip(await unzip(Buffer.from(await res.arrayBuffer())));
  });

  it('answers POST /blob/download with a signed link to the same zip, status success', async () => {
    await uploadBuild(server.url, 'b2');
    const body = await pollZip(server.url, 'proj/b2/');
    assert.match(body.link, new RegExp(`^${server.url}/links/zip\\?`));
    // Harness's zip answer: expires is a time (RFC 3339), one link lifetime from now.
    const expiresIn = Date.parse(body.expires) - Date.now();
    assert.match(body.expires, /Z$/);
    assert.ok(expiresIn > 3590_000 && expiresIn <= 3600_000, `expires ${body.expires}`);
    assertBuildZip(await unzip(Buffer.from(await (await fetch(body.link)).arrayBuffer())));
    const tampered = await fetch(body.link.replace('proj%2Fb2', 'proj%2Fb1'));
    assert.equal(tampered.status, 403);
  });

  it('treats a POST /blob/download prefix without a trailing slash as a folder (no sibling builds in the zip)', async () => {
    await uploadBuild(server.url, 'b4');
    const body = await pollZip(server.url, 'proj/b4');
    assertBuildZip(await unzip(Buffer.from(await (await fetch(body.link)).arrayBuffer())));
  });

  it('refuses a zip over the entry cap with 413 LOGSVC_TOO_MANY_ENTRIES before sending anything', async () => {
    await uploadBuild(server.url, 'b3');
    await fetch(`${server.url}/ci/proj/b3/extra/one/blob`, { method: 'PUT', body: 'fourth' });
    const res = await fetch(`${server.url}/ci/proj/b3/logs.zip`);
    assert.equal(res.status, 413);
    const body = (await res.json()) as { error_code: string; error_msg: string };
    assert.equal(body.error_code, 'LOGSVC_TOO_MANY_ENTRIES');
    assert.match(body.error_msg, /more than 3 blobs.*at most 3/);
    const harness = await fetch(`${server.url}/blob/download?accountID=default&prefix=proj/b3/`, { method: 'POST' });
    assert.equal(harness.status, 413);
  });
});
