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
