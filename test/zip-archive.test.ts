// Zips of blobs under a prefix (POST /blob/download), from the S3 store on
// s3rver, read back with yauzl (an independent zip reader).
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BlobStore } from '../store/blob-store.ts';
import { createS3BlobStore } from '../store/s3-blob-store.ts';
import { zipBlobs } from '../store/zip-archive.ts';
import { ZipExports, type ZipExportState, type ZipExportStatus } from '../store/zip-export.ts';
import { startS3rver, type S3rverHandle } from './support/s3rver.ts';
import { unzip } from './support/unzip.ts';

const MiB = 1024 * 1024;

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const put = (store: BlobStore, name: string, content: string | Buffer) => store.put(name, Readable.from([Buffer.from(content)]));

describe('zip of the blobs under a prefix', function () {
  this.timeout(60_000);
  let s3: S3rverHandle;
  let store: BlobStore;
  const big = Buffer.alloc(9 * MiB, 'log line\n');

  before(async () => {
    s3 = await startS3rver({ prefix: 'svc/' });
    store = createS3BlobStore(s3.config);
    await put(store, 'acct/proj/1/build/compile', 'compiling\n');
    await put(store, 'acct/proj/1/build/test', big);
    await put(store, 'acct/proj/1/deploy/push', 'pushed\n');
    await put(store, 'acct/proj/10/build/compile', 'another build\n');
    await put(store, 'other/proj/1/build/compile', 'another account\n');
  });
  after(async () => {
    await store?.close();
    await s3?.stop();
  });

  it('holds every blob under the prefix, named relative to it, with its exact content', async () => {
    const zip = await readAll(await zipBlobs(store, 'acct/proj/1/', { maxEntries: 10 }));
    const entries = await unzip(zip);
    assert.deepEqual([...entries.keys()], ['build/compile', 'build/test', 'deploy/push']);
    assert.equal(entries.get('build/compile')?.toString(), 'compiling\n');
    assert.ok(entries.get('build/test')?.equals(big));
    assert.equal(entries.get('deploy/push')?.toString(), 'pushed\n');
  });

  it('opens one blob at a time while it streams', async () => {
    let open = 0;
    let mostOpen = 0;
    const counting: BlobStore = Object.create(store) as BlobStore;
    counting.get = async (name, range) => {
      const blob = await store.get(name, range);
      if (blob !== null) {
        open++;
        mostOpen = Math.max(mostOpen, open);
        blob.body.once('close', () => {
          open--;
        });
      }
      return blob;
    };
    const entries = await unzip(await readAll(await zipBlobs(counting, 'acct/proj/1/', { maxEntries: 10 })));
    assert.equal(entries.size, 3);
    assert.equal(mostOpen, 1);
  });

  it('stops reading the current blob when the reader of the zip goes away', async () => {
    const opened: Readable[] = [];
    const watching: BlobStore = Object.create(store) as BlobStore;
    watching.get = async (name, range) => {
      const blob = await store.get(name, range);
      if (blob !== null) opened.push(blob.body);
      return blob;
    };
    const zip = await zipBlobs(watching, 'acct/proj/1/build/', { maxEntries: 10 });
    // Read into the 9 MiB blob, then hang up.
    let received = 0;
    for await (const chunk of zip) {
      received += (chunk as Buffer).length;
      if (received > MiB) break;
    }
    await sleep(50);
    assert.equal(opened.length, 2);
    assert.ok(
      opened.every((body) => body.destroyed),
      'every blob stream is closed',
    );
  });

  it('refuses more blobs than maxEntries with LOGSVC_TOO_MANY_ENTRIES before sending anything, listing no further', async () => {
    let listed = 0;
    const counting: BlobStore = Object.create(store) as BlobStore;
    counting.list = async function* (prefix) {
      for await (const entry of store.list(prefix)) {
        listed++;
        yield entry;
      }
    };
    await assert.rejects(zipBlobs(counting, 'acct/proj/', { maxEntries: 2 }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'LOGSVC_TOO_MANY_ENTRIES');
      assert.match(err.message, /more than 2 blobs under the prefix "acct\/proj\/"; a zip holds at most 2/);
      return true;
    });
    assert.equal(listed, 3, 'the listing stopped at the first blob over the cap (4 are there)');
  });

  it('answers LOGSVC_BLOB_NOT_FOUND when nothing is under the prefix', async () => {
    await assert.rejects(zipBlobs(store, 'acct/nothing/', { maxEntries: 10 }), { code: 'LOGSVC_BLOB_NOT_FOUND', status: 404 });
  });

  describe('ZipExports (POST /blob/download on S3)', () => {
    async function pollUntilDone(exports: ZipExports, account: string, prefix: string): Promise<{ seen: ZipExportState[]; last: ZipExportStatus }> {
      const seen: ZipExportState[] = [];
      for (let i = 0; i < 400; i++) {
        const status = await exports.request(account, prefix);
        if (seen.at(-1) !== status.status) seen.push(status.status);
        if (status.status === 'success' || status.status === 'failed') return { seen, last: status };
        await sleep(25);
      }
      throw new Error(`export of ${prefix} did not finish: ${seen.join(' → ')}`);
    }

    it('goes from queued to success and its link downloads the zip with plain fetch', async () => {
      const exports = new ZipExports(store, { maxEntries: 10, linkExpirySeconds: 600 });
      const before = Date.now();
      const first = await exports.request('acct', 'proj/1/');
      assert.equal(first.status, 'queued');
      assert.match(first.expires, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, 'expires is an RFC 3339 time, as Harness answers');
      const expiresAt = Date.parse(first.expires);
      assert.ok(expiresAt >= before + 600_000 - 1000 && expiresAt <= Date.now() + 600_000, `expires ${first.expires} is 600 s from now`);
      assert.match(first.link, /^http:\/\/127\.0\.0\.1:\d+\/logs\/svc\/~zip\/acct\/[0-9a-f]{64}\.zip\?/);

      const { seen, last } = await pollUntilDone(exports, 'acct', 'proj/1/');
      const order: ZipExportState[] = ['queued', 'in_progress', 'success'];
      const steps = [first.status, ...seen].map((s) => order.indexOf(s));
      assert.ok(
        steps.every((step, i) => step >= 0 && (i === 0 || step >= steps[i - 1]!)),
        seen.join(' → '),
      );
      assert.equal(seen.at(-1), 'success');
      assert.equal(new URL(last.link).pathname, new URL(first.link).pathname);

      const response = await fetch(last.link);
      assert.equal(response.status, 200);
      const downloaded = Buffer.from(await response.arrayBuffer());
      const stored = await store.get(ZipExports.zipName('acct', 'proj/1/'));
      assert.ok(stored);
      assert.equal(stored.meta.contentType, 'application/zip');
      assert.ok(downloaded.equals(await readAll(stored.body)));
      const entries = await unzip(downloaded);
      assert.deepEqual([...entries.keys()], ['build/compile', 'build/test', 'deploy/push']);
      assert.ok(entries.get('build/test')?.equals(big));

      // Asked again soon after, the finished zip is handed out, not rebuilt.
      assert.equal((await exports.request('acct', 'proj/1/')).status, 'success');
      const elsewhere = new ZipExports(store, { maxEntries: 10, linkExpirySeconds: 600 });
      assert.equal((await elsewhere.request('acct', 'proj/1/')).status, 'success');
    });

    it('passes through exactly queued, in_progress and success while the zip is built', async () => {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const gated: BlobStore = Object.create(store) as BlobStore;
      gated.get = async (name, range) => {
        await gate; // the build holds here, so a poll must see it in progress
        return store.get(name, range);
      };
      const exports = new ZipExports(gated, { maxEntries: 10, linkExpirySeconds: 60 });
      const seen: ZipExportState[] = [(await exports.request('acct', 'proj/10/')).status];
      for (let i = 0; i < 200 && seen.at(-1) !== 'in_progress'; i++) {
        await sleep(10);
        const status = (await exports.request('acct', 'proj/10/')).status;
        if (status !== seen.at(-1)) seen.push(status);
      }
      release();
      const { seen: rest } = await pollUntilDone(exports, 'acct', 'proj/10/');
      for (const status of rest) if (status !== seen.at(-1)) seen.push(status);
      assert.deepEqual(seen, ['queued', 'in_progress', 'success']);
    });

    it('ends failed with the reason when storing the zip fails, and a new request starts over', async () => {
      let failPuts = true;
      const failing: BlobStore = Object.create(store) as BlobStore;
      failing.put = async (name, body, options) => {
        if (failPuts) {
          body.destroy();
          throw Object.assign(new Error('S3 is unavailable (put): SlowDown'), { code: 'LOGSVC_BACKEND_UNAVAILABLE' });
        }
        return store.put(name, body, options);
      };
      // No zip of this prefix from an earlier test, so the first request builds one (and fails).
      // Finished zips are reused (the default 300 s): with reuseSeconds 0 the success was stale
      // by the next poll and a loaded machine never saw it (a new export started each time).
      await store.delete(ZipExports.zipName('acct', 'proj/1/build/'));
      const exports = new ZipExports(failing, { maxEntries: 10, linkExpirySeconds: 60 });
      const { last } = await pollUntilDone(exports, 'acct', 'proj/1/build/');
      assert.equal(last.status, 'failed');
      assert.match(last.message ?? '', /SlowDown/);
      failPuts = false;
      const { last: again } = await pollUntilDone(exports, 'acct', 'proj/1/build/');
      assert.equal(again.status, 'success');
    });

    it('answers too many blobs (413) and an empty prefix (404) at once, before queueing anything', async () => {
      const exports = new ZipExports(store, { maxEntries: 2, linkExpirySeconds: 60 });
      await assert.rejects(exports.request('acct', 'proj/'), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'LOGSVC_TOO_MANY_ENTRIES');
        assert.match(err.message, /more than 2 blobs/);
        return true;
      });
      await assert.rejects(exports.request('acct', 'nothing-here/'), { code: 'LOGSVC_BLOB_NOT_FOUND' });
    });
  });
});
