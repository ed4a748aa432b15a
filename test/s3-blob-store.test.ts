// S3 blob store against s3rver over HTTP (CONTRIBUTING.md, habit 9: the real protocol, no mocks).
// What s3rver cannot prove is listed in the README (S3 store section).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { BlobStore } from '../store/blob-store.ts';
import { createS3BlobStore } from '../store/s3-blob-store.ts';
import { startS3Recorder } from './support/s3-recorder.ts';
import { startS3rver, type S3rverHandle } from './support/s3rver.ts';

const MiB = 1024 * 1024;

// A full GC on demand, without starting node with --expose-gc.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Byte i of the deterministic test pattern (not periodic at power-of-two offsets). */
function patternByte(i: number): number {
  return (i * 7 + Math.floor(i / 8191)) & 0xff;
}

function patternChunk(offset: number, length: number): Buffer {
  const chunk = Buffer.allocUnsafe(length);
  for (let j = 0; j < length; j++) chunk[j] = patternByte(offset + j);
  return chunk;
}

/** `size` bytes of the pattern, generated as they are read; `failAt` makes the source error there. */
function patternStream(size: number, options: { chunk?: number; failAt?: number } = {}): Readable {
  const chunkSize = options.chunk ?? MiB;
  let offset = 0;
  return new Readable({
    read() {
      if (options.failAt !== undefined && offset >= options.failAt) {
        this.destroy(new Error('source failed midway'));
        return;
      }
      if (offset >= size) {
        this.push(null);
        return;
      }
      const length = Math.min(chunkSize, size - offset);
      this.push(patternChunk(offset, length));
      offset += length;
    },
  });
}

function patternSha256(size: number): string {
  const hash = createHash('sha256');
  for (let offset = 0; offset < size; offset += MiB) hash.update(patternChunk(offset, Math.min(MiB, size - offset)));
  return hash.digest('hex');
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function textOf(store: BlobStore, name: string): Promise<string | null> {
  const blob = await store.get(name);
  return blob === null ? null : (await readAll(blob.body)).toString('utf8');
}

describe('S3 blob store on s3rver', function () {
  this.timeout(120_000);
  let s3: S3rverHandle;
  let store: BlobStore;

  before(async () => {
    s3 = await startS3rver({ prefix: 'logs/' });
    store = createS3BlobStore(s3.config);
  });
  after(async () => {
    await store?.close();
    await s3?.stop();
  });

  it('streams a 128 MiB blob in by multipart upload and out again with the sha256 it was written with, in bounded memory', async () => {
    const size = 128 * MiB;
    const expected = patternSha256(size);
    collectGarbage();
    const baseline = process.memoryUsage().arrayBuffers;
    let peak = baseline;
    // Live Buffer memory, sampled after a full GC so garbage awaiting collection does not count.
    const sampler = setInterval(() => {
      collectGarbage();
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    }, 50);
    try {
      const meta = await store.put('acct/big/log', patternStream(size), { contentType: 'text/plain' });
      assert.equal(meta.size, size);
      assert.equal(meta.sha256, expected);
      assert.equal(meta.etag, `"${expected}"`);

      const blob = await store.get('acct/big/log');
      assert.ok(blob);
      assert.deepEqual(blob.meta, meta);
      const hash = createHash('sha256');
      let received = 0;
      for await (const chunk of blob.body) {
        hash.update(chunk as Buffer);
        received += (chunk as Buffer).length;
      }
      assert.equal(received, size);
      assert.equal(hash.digest('hex'), expected);
    } finally {
      clearInterval(sampler);
    }
    // Parts in flight and being cut (lib-storage copies each 8 MiB part) plus socket
    // buffers: about 40-55 MiB here, whatever the blob's size; holding the blob would be ≥ 128.
    const grew = peak - baseline;
    assert.ok(grew < 80 * MiB, `Buffer memory grew by ${Math.round(grew / MiB)} MiB`);
    const head = await store.head('acct/big/log');
    assert.equal(head?.sha256, expected);
    assert.equal(head?.contentType, 'text/plain');
    // The staging object the multipart body went to is gone after the copy.
    assert.deepEqual(await stagingObjects(s3), []);
  });

  it('serves a byte range, also across a multipart part boundary, and reports the whole size', async () => {
    await store.put('acct/range/log', Readable.from([Buffer.from('0123456789abcdef')]));
    const middle = await store.get('acct/range/log', { start: 2, end: 5 });
    assert.ok(middle);
    assert.equal((await readAll(middle.body)).toString(), '2345');
    assert.equal(middle.meta.size, 16);

    // An open-ended "bytes=10-" arrives resolved against the size.
    const tail = await store.get('acct/range/log', { start: 10, end: 15 });
    assert.equal((await readAll(tail!.body)).toString(), 'abcdef');

    const boundary = 8 * MiB;
    await store.put('acct/range/big', patternStream(20 * MiB));
    const across = await store.get('acct/range/big', { start: boundary - 5, end: boundary + 4 });
    assert.deepEqual(await readAll(across!.body), patternChunk(boundary - 5, 10));
    assert.equal(across!.meta.size, 20 * MiB);
  });

  it('answers null for a blob that does not exist and false when deleting it', async () => {
    assert.equal(await store.head('acct/none/log'), null);
    assert.equal(await store.get('acct/none/log'), null);
    assert.equal(await store.get('acct/none/log', { start: 0, end: 1 }), null);
    assert.equal(await store.delete('acct/none/log'), false);
  });

  it('deletes a blob once: true, then false, and it is gone', async () => {
    await store.put('acct/delete/log', Readable.from([Buffer.from('bye')]));
    assert.equal(await store.delete('acct/delete/log'), true);
    assert.equal(await store.head('acct/delete/log'), null);
    assert.equal(await store.delete('acct/delete/log'), false);
  });

  it('keeps the content type and creation time, and an empty blob is a blob', async () => {
    const before = Date.now();
    const meta = await store.put('acct/empty/log', Readable.from([]), { contentType: 'application/x-ndjson' });
    assert.equal(meta.size, 0);
    assert.equal(meta.sha256, createHash('sha256').digest('hex'));
    const head = await store.head('acct/empty/log');
    assert.deepEqual(head, meta);
    assert.equal(head?.contentType, 'application/x-ndjson');
    assert.ok(Date.parse(head!.created) >= before - 1000);
    assert.equal(await textOf(store, 'acct/empty/log'), '');
  });

  it('lists blobs under a prefix in name order across several pages, without the configured key prefix', async () => {
    const paged = createS3BlobStore(s3.config, { listPageSize: 4 });
    try {
      const names = Array.from({ length: 11 }, (_, i) => `acct/list/build/step-${String(i).padStart(2, '0')}`);
      for (const name of [...names].reverse()) await store.put(name, Readable.from([Buffer.from(name)]));
      await store.put('acct/listing/other', Readable.from([Buffer.from('outside')]));

      const listed = [];
      for await (const entry of paged.list('acct/list/')) listed.push(entry);
      assert.deepEqual(
        listed.map((e) => e.name),
        names,
      );
      assert.deepEqual(
        listed.map((e) => e.size),
        names.map((n) => Buffer.byteLength(n)),
      );

      // The pages really were pages: s3rver honours max-keys and truncates.
      const raw = await (await fetch(`${s3.endpoint}/${s3.bucket}?list-type=2&prefix=logs/acct/list/&max-keys=4`)).text();
      assert.match(raw, /<IsTruncated>true<\/IsTruncated>/);
    } finally {
      await paged.close();
    }
  });

  it('hands out presigned GET and PUT links that work with plain fetch', async () => {
    await store.put('acct/link/get', Readable.from([Buffer.from('downloaded by link')]));
    const getLink = await store.presign!('acct/link/get', 'GET', 60);
    const got = await fetch(getLink);
    assert.equal(got.status, 200);
    assert.equal(await got.text(), 'downloaded by link');

    const putLink = await store.presign!('acct/link/put', 'PUT', 60);
    const put = await fetch(putLink, { method: 'PUT', body: 'uploaded by link' });
    assert.equal(put.status, 200);
    // Written around the service: the store hashes it on first sight.
    const head = await store.head('acct/link/put');
    assert.equal(head?.sha256, createHash('sha256').update('uploaded by link').digest('hex'));
    assert.equal(head?.size, 16);
    const blob = await store.get('acct/link/put');
    assert.equal(blob?.meta.etag, head?.etag);
    assert.equal((await readAll(blob!.body)).toString(), 'uploaded by link');
  });

  it('refuses a presigned link once it has expired (403)', async () => {
    await store.put('acct/link/expiring', Readable.from([Buffer.from('soon gone')]));
    const link = await store.presign!('acct/link/expiring', 'GET', 1);
    assert.equal((await fetch(link)).status, 200);
    await sleep(2100);
    const expired = await fetch(link);
    assert.equal(expired.status, 403);
    assert.match(await expired.text(), /expired/i);
  });

  it('leaves no object and the previous blob intact when the source fails midway through a multipart upload', async () => {
    await store.put('acct/fail/log', Readable.from([Buffer.from('previous version')]));
    await assert.rejects(store.put('acct/fail/log', patternStream(40 * MiB, { failAt: 20 * MiB })), /source failed midway/);
    assert.equal(await textOf(store, 'acct/fail/log'), 'previous version');

    await assert.rejects(store.put('acct/fail/new', patternStream(40 * MiB, { failAt: 20 * MiB })), /source failed midway/);
    assert.equal(await store.head('acct/fail/new'), null);
    assert.deepEqual(await stagingObjects(s3), []);
  });

  it('aborts its own multipart upload (AbortMultipartUpload with its uploadId) when the source fails', async () => {
    const recorder = await startS3Recorder(s3.endpoint);
    const recorded = createS3BlobStore({ ...s3.config, endpoint: recorder.endpoint });
    try {
      await assert.rejects(recorded.put('acct/abort/log', patternStream(40 * MiB, { failAt: 20 * MiB })), /source failed midway/);
      const parts = recorder.requests.filter((r) => /^PUT .*[?&]partNumber=/.test(r));
      assert.ok(parts.length >= 1, `parts were sent: ${recorder.requests.join(', ')}`);
      const uploadId = /[?&]uploadId=([^&]+)/.exec(parts[0]!)?.[1];
      assert.ok(uploadId !== undefined);
      const aborts = recorder.requests.filter((r) => r.startsWith('DELETE ') && r.includes(`uploadId=${uploadId}`));
      assert.ok(aborts.length >= 1, `no AbortMultipartUpload for ${uploadId}: ${recorder.requests.join(', ')}`);
      assert.ok(!recorder.requests.some((r) => /^POST .*[?&]uploadId=/.test(r)), 'the upload was never completed');
    } finally {
      await recorded.close();
      await recorder.close();
    }
  });

  it('leaves the previous blob intact when a small source fails before its end', async () => {
    await store.put('acct/fail/small', Readable.from([Buffer.from('previous version')]));
    await assert.rejects(store.put('acct/fail/small', patternStream(3 * MiB, { failAt: 2 * MiB })), /source failed midway/);
    assert.equal(await textOf(store, 'acct/fail/small'), 'previous version');
  });

  it('rejects a body over maxBytes with LOGSVC_BODY_TOO_LARGE and stores nothing of it', async () => {
    await store.put('acct/large/log', Readable.from([Buffer.from('previous version')]));
    await assert.rejects(store.put('acct/large/log', patternStream(3 * MiB), { maxBytes: 2 * MiB }), { code: 'LOGSVC_BODY_TOO_LARGE', status: 413 });
    assert.equal(await textOf(store, 'acct/large/log'), 'previous version');

    await assert.rejects(store.put('acct/large/multipart', patternStream(30 * MiB), { maxBytes: 20 * MiB }), { code: 'LOGSVC_BODY_TOO_LARGE' });
    assert.equal(await store.head('acct/large/multipart'), null);
    assert.deepEqual(await stagingObjects(s3), []);

    const exact = await store.put('acct/large/exact', patternStream(2 * MiB), { maxBytes: 2 * MiB });
    assert.equal(exact.size, 2 * MiB);
  });

  it('replaces a blob whole when it is written again', async () => {
    await store.put('acct/replace/log', patternStream(12 * MiB));
    const second = await store.put('acct/replace/log', Readable.from([Buffer.from('short now')]));
    assert.equal((await store.head('acct/replace/log'))?.sha256, second.sha256);
    assert.equal(await textOf(store, 'acct/replace/log'), 'short now');
  });

  it('passes ping while s3rver is up', async () => {
    await store.ping();
  });

  it('reports LOGSVC_BACKEND_UNAVAILABLE when S3 cannot be reached', async () => {
    const down = await startS3rver();
    const config = down.config;
    await down.stop();
    const orphan = createS3BlobStore(config);
    try {
      await assert.rejects(orphan.ping(), { code: 'LOGSVC_BACKEND_UNAVAILABLE', status: 503 });
      await assert.rejects(orphan.head('acct/x/y'), { code: 'LOGSVC_BACKEND_UNAVAILABLE' });
      await assert.rejects(orphan.put('acct/x/y', Readable.from([Buffer.from('x')])), { code: 'LOGSVC_BACKEND_UNAVAILABLE' });
    } finally {
      await orphan.close();
    }
  });

  it('reports LOGSVC_BACKEND_UNAVAILABLE from ping when the bucket does not exist', async () => {
    const wrong = createS3BlobStore({ ...s3.config, bucket: 'no-such-bucket' });
    try {
      await assert.rejects(wrong.ping(), { code: 'LOGSVC_BACKEND_UNAVAILABLE' });
    } finally {
      await wrong.close();
    }
  });
});

/** Objects in the store's staging area, listed over S3's own API (unfinished multipart uploads are not objects). */
async function stagingObjects(s3: S3rverHandle): Promise<string[]> {
  const response = await fetch(`${s3.endpoint}/${s3.bucket}?list-type=2&prefix=${encodeURIComponent('logs/~uploads/')}`);
  assert.equal(response.status, 200);
  return [...(await response.text()).matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1] ?? '');
}
