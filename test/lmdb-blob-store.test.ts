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
