import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { LmdbBlobStore } from '../store/lmdb-blob-store.ts';
import { blobStoreContract } from './contract/blob-store.contract.ts';
import { collect, patternStream } from './support/byte-streams.ts';

blobStoreContract('lmdb', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'logsvc-lmdb-'));
  const store = new LmdbBlobStore(join(dir, 'db'));
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('LMDB blob store on disk', () => {
  it('putBytes: skips the sha256 when asked, and a replacement leaves no chunk of the blob it replaced', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'logsvc-lmdb-'));
    const path = join(dir, 'db');
    const store = new LmdbBlobStore(path);
    const big = Buffer.alloc(600 * 1024, 3); // three 256 KiB chunks
    const unhashed = await store.putBytes('~archive/s/~1/a', big, { checksum: false, durable: false });
    assert.equal(unhashed.sha256, '');
    await store.putBytes('~archive/s/~1/a', Buffer.from('smaller\n'));
    await store.putBytes('acct/other', Buffer.from('kept\n'));
    await store.close();
    const { open } = await import('lmdb');
    const root = open({ path });
    const chunks = [...root.openDB({ name: 'blob-chunks', encoding: 'binary' }).getKeys()];
    // One chunk for each of the two blobs there are; none of the 600 KiB one replaced.
    assert.equal(chunks.length, 2, `chunks left: ${JSON.stringify(chunks)}`);
    assert.deepEqual([...root.openDB({ name: 'blob-pending', encoding: 'string' }).getKeys()], [], 'no upload record');
    await root.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("putBytes of new names, not durable (the live archive's chunks): many at once read back whole, and replacing one takes no chunk of another", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'logsvc-lmdb-'));
    const path = join(dir, 'db');
    const store = new LmdbBlobStore(path);
    const bodyOf = (i: number) => Buffer.alloc(300 * 1024 + i, i + 1); // two 256 KiB chunks each
    // 80 writes in flight together: LMDB's write thread commits them in batches, each conditional on its name being new.
    const names = Array.from({ length: 80 }, (_, i) => `~archive/s/~1/${String(i).padStart(2, '0')}`);
    await Promise.all(names.map((name, i) => store.putBytes(name, bodyOf(i), { checksum: false, durable: false })));
    // Upload ids are a prefix and a counter: replacing the blobs of ids …1 and …2 takes no chunk of …10–…1z and …20–…27, whose ids they begin.
    await store.putBytes(names[1]!, Buffer.from('one\n'), { durable: false });
    await store.putBytes(names[2]!, Buffer.from('two\n'));
    for (const [i, name] of names.entries()) {
      const want = i === 1 ? Buffer.from('one\n') : i === 2 ? Buffer.from('two\n') : bodyOf(i);
      assert.ok((await collect((await store.get(name))!.body)).equals(want), `blob ${name} read back whole`);
    }
    // The same new name written twice at once: one write finds it taken and replaces it; nothing of the other is left.
    const [a, b] = await Promise.all([
      store.putBytes('~archive/s/~1/twice', Buffer.alloc(400 * 1024, 7), { checksum: false, durable: false }),
      store.putBytes('~archive/s/~1/twice', Buffer.alloc(100, 8), { checksum: false, durable: false }),
    ]);
    assert.notEqual(a.etag, b.etag);
    const stored = await collect((await store.get('~archive/s/~1/twice'))!.body);
    assert.ok(stored.equals(Buffer.alloc(100, 8)) || stored.equals(Buffer.alloc(400 * 1024, 7)), 'one of the two, whole');
    await store.close();
    const { open } = await import('lmdb');
    const root = open({ path });
    const chunkCount = [...root.openDB({ name: 'blob-chunks', encoding: 'binary' }).getKeys()].length;
    // 78 blobs of two chunks, the two replaced of one, and one chunk or two of the name written twice.
    assert.equal(chunkCount, 78 * 2 + 2 + (stored.length > 256 * 1024 ? 2 : 1));
    await root.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps blobs across a close and reopen of the same file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'logsvc-lmdb-'));
    const path = join(dir, 'db');
    const first = new LmdbBlobStore(path);
    await first.put('acct/p/1/s/t', Readable.from([Buffer.from('survives\n')]));
    await first.close();
    const second = new LmdbBlobStore(path);
    assert.equal((await collect((await second.get('acct/p/1/s/t'))!.body)).toString(), 'survives\n');
    await second.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('sweeps the chunks of an upload that was cut by a crash when it reopens', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'logsvc-lmdb-'));
    const path = join(dir, 'db');
    const { open } = await import('lmdb');
    // Simulate the state a crash leaves: a pending upload id with chunks and no metadata.
    const root = open({ path });
    const chunks = root.openDB({ name: 'blob-chunks', encoding: 'binary' });
    const pending = root.openDB({ name: 'blob-pending', encoding: 'string' });
    await chunks.put(['crashed', 0], Buffer.alloc(1000));
    await pending.put('crashed', 'x');
    await root.close();
    const store = new LmdbBlobStore(path);
    await store.put('acct/a', patternStream(10));
    await store.close();
    const again = open({ path });
    const left = [...again.openDB({ name: 'blob-chunks', encoding: 'binary' }).getKeys({ start: ['crashed', 0], end: ['crashed', 1e9] })];
    assert.deepEqual(left, []);
    await again.close();
    await rm(dir, { recursive: true, force: true });
  });
});
