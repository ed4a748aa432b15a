// The one BlobStore contract (CONTRIBUTING.md, habit 4): every backend runs these cases unchanged.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { BlobStore } from '../../store/blob-store.ts';
import { collect, patternStream, sha256Of } from '../support/byte-streams.ts';

export interface BlobStoreHarness {
  store: BlobStore;
  cleanup(): Promise<void>;
}

let counter = 0;
const unique = (label = 'acct') => `${label}-${process.pid}-${Date.now().toString(36)}-${counter++}`;

export function blobStoreContract(label: string, makeStore: () => Promise<BlobStoreHarness>): void {
  describe(`BlobStore contract: ${label}`, function () {
    this.timeout(60000);
    let harness: BlobStoreHarness;
    let store: BlobStore;
    before(async () => {
      harness = await makeStore();
      store = harness.store;
    });
    after(async () => harness.cleanup());

    it('stores a blob and returns it with size, sha256, content type, created time and an ETag', async () => {
      const name = `${unique()}/p/1/s/step`;
      const meta = await store.put(name, Readable.from([Buffer.from('hello '), Buffer.from('world\n')]), { contentType: 'text/plain' });
      assert.equal(meta.size, 12);
      assert.equal(meta.sha256, 'a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447');
      assert.equal(meta.contentType, 'text/plain');
      assert.ok(Date.now() - Date.parse(meta.created) < 60000);
      assert.match(meta.etag, /^".+"$/);
      assert.deepEqual(await store.head(name), meta);
      const got = await store.get(name);
      assert.ok(got);
      assert.equal((await collect(got.body)).toString(), 'hello world\n');
      assert.deepEqual(got.meta, meta);
    });

    it('answers null for a blob that does not exist, and false when deleting it', async () => {
      const name = `${unique()}/missing`;
      assert.equal(await store.head(name), null);
      assert.equal(await store.get(name), null);
      assert.equal(await store.delete(name), false);
    });

    it('stores an empty blob', async () => {
      const name = `${unique()}/empty`;
      const meta = await store.put(name, Readable.from([]));
      assert.equal(meta.size, 0);
      assert.equal(meta.sha256, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
      assert.equal((await collect((await store.get(name))!.body)).length, 0);
    });

    it('round-trips 24 MiB streamed in both directions with the same sha256', async () => {
      const name = `${unique()}/big`;
      const size = 24 * 1024 * 1024 + 123;
      const expected = await sha256Of(patternStream(size, 7));
      const meta = await store.put(name, patternStream(size, 7));
      assert.equal(meta.size, size);
      assert.equal(meta.sha256, expected.sha256);
      const got = await sha256Of((await store.get(name))!.body);
      assert.deepEqual(got, { sha256: expected.sha256, bytes: size });
    });

    it('serves byte ranges, including ranges across internal chunk boundaries and the last byte', async () => {
      const name = `${unique()}/ranges`;
      const size = 3 * 1024 * 1024 + 17;
      const all = await collect(patternStream(size, 3));
      await store.put(name, Readable.from([all]));
      for (const [start, end] of [
        [0, 0],
        [10, 99],
        [262_100, 262_200],
        [1_048_000, 2_100_000],
        [size - 1, size - 1],
        [0, size - 1],
      ] as const) {
        const got = await store.get(name, { start, end });
        const bytes = await collect(got!.body);
        assert.equal(bytes.length, end - start + 1, `range ${start}-${end}`);
        assert.ok(bytes.equals(all.subarray(start, end + 1)), `range ${start}-${end} content`);
      }
    });

    it('replaces a blob atomically on a second upload', async () => {
      const name = `${unique()}/replace`;
      await store.put(name, Readable.from([Buffer.from('first')]));
      await store.put(name, Readable.from([Buffer.from('second version')]));
      assert.equal((await collect((await store.get(name))!.body)).toString(), 'second version');
      assert.equal((await store.head(name))!.size, 14);
    });

    it('leaves no blob when the upload source fails midway, and keeps the previous blob intact', async () => {
      const fresh = `${unique()}/cut`;
      await assert.rejects(store.put(fresh, patternStream(8 * 1024 * 1024, 1, 3 * 1024 * 1024)));
      assert.equal(await store.head(fresh), null);
      const kept = `${unique()}/kept`;
      await store.put(kept, Readable.from([Buffer.from('original')]));
      await assert.rejects(store.put(kept, patternStream(8 * 1024 * 1024, 1, 3 * 1024 * 1024)));
      assert.equal((await collect((await store.get(kept))!.body)).toString(), 'original');
    });

    it('refuses a body over maxBytes with LOGSVC_BODY_TOO_LARGE and stores nothing', async () => {
      const name = `${unique()}/too-large`;
      await assert.rejects(store.put(name, patternStream(2 * 1024 * 1024, 5), { maxBytes: 1024 * 1024 }), { code: 'LOGSVC_BODY_TOO_LARGE' });
      assert.equal(await store.head(name), null);
    });

    it('stores a body given whole (putBytes) as put does: same sha256, ranges across chunks, a replacement in one step', async () => {
      const name = `${unique()}/bytes`;
      const bytes = await collect(patternStream(600 * 1024 + 17, 9));
      await store.putBytes(name, Buffer.from('the old blob'));
      const meta = await store.putBytes(name, bytes, { contentType: 'application/x-ndjson', durable: false });
      assert.equal(meta.size, bytes.length);
      assert.equal(meta.sha256, (await sha256Of(Readable.from([bytes]))).sha256);
      assert.equal(meta.contentType, 'application/x-ndjson');
      assert.deepEqual(await store.head(name), meta);
      assert.ok((await collect((await store.get(name))!.body)).equals(bytes));
      // 256 KiB is the LMDB store's chunk size: this range spans its first boundary.
      const range = await store.get(name, { start: 256 * 1024 - 5, end: 256 * 1024 + 4 });
      assert.ok((await collect(range!.body)).equals(bytes.subarray(256 * 1024 - 5, 256 * 1024 + 5)));
      const empty = await store.putBytes(`${name}-empty`, Buffer.alloc(0));
      assert.equal(empty.sha256, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
      assert.equal((await collect((await store.get(`${name}-empty`))!.body)).length, 0);
    });

    it('may skip the sha256 of a blob nobody will ask it of (checksum: false), and still gives it an ETag of its own', async () => {
      const name = `${unique()}/unhashed`;
      const first = await store.putBytes(name, Buffer.from('row 1\n'), { checksum: false, durable: false });
      const second = await store.putBytes(name, Buffer.from('row 1\n'), { checksum: false, durable: false });
      assert.ok(first.sha256 === '' || first.sha256 === second.sha256, 'no hash, or the right one');
      assert.match(second.etag, /^"[^"]+"$/);
      if (second.sha256 === '') assert.notEqual(first.etag, second.etag, 'without a hash, each write has its own validator');
      assert.equal((await collect((await store.get(name))!.body)).toString(), 'row 1\n');
    });

    it('refuses bytes over maxBytes (putBytes) with LOGSVC_BODY_TOO_LARGE and keeps the previous blob', async () => {
      const name = `${unique()}/bytes-too-large`;
      await store.putBytes(name, Buffer.from('kept'));
      await assert.rejects(store.putBytes(name, Buffer.alloc(2048, 1), { maxBytes: 1024 }), { code: 'LOGSVC_BODY_TOO_LARGE' });
      assert.equal((await collect((await store.get(name))!.body)).toString(), 'kept');
    });

    it('deletes a blob', async () => {
      const name = `${unique()}/delete`;
      await store.put(name, Readable.from([Buffer.from('x')]));
      assert.equal(await store.delete(name), true);
      assert.equal(await store.head(name), null);
      assert.equal(await store.get(name), null);
    });

    it('lists the blobs under a prefix in name order, and nothing outside it', async () => {
      const base = unique();
      for (const n of ['b/2', 'a/1', 'a/3']) await store.put(`${base}/${n}`, Readable.from([Buffer.from(n)]));
      await store.put(`${base}x/outside`, Readable.from([Buffer.from('no')]));
      const listed: { name: string; size: number }[] = [];
      for await (const entry of store.list(`${base}/`)) listed.push(entry);
      assert.deepEqual(listed, [
        { name: `${base}/a/1`, size: 3 },
        { name: `${base}/a/3`, size: 3 },
        { name: `${base}/b/2`, size: 3 },
      ]);
    });

    it('keeps concurrent uploads to different names apart', async () => {
      const base = unique();
      await Promise.all([1, 2, 3, 4].map((i) => store.put(`${base}/${i}`, patternStream(600_000, i))));
      for (const i of [1, 2, 3, 4]) {
        const got = await sha256Of((await store.get(`${base}/${i}`))!.body);
        assert.deepEqual(got, await sha256Of(patternStream(600_000, i)));
      }
    });

    it('answers ping while healthy', async () => {
      await store.ping();
    });
  });
}
