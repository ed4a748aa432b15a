// The text of finished logs, decoded once for all their raw readers (handler/tail/snapshot-texts.ts).
import assert from 'node:assert/strict';
import { SnapshotTextCache, type TextPiece } from '../../handler/tail/snapshot-texts.ts';

const MiB = 1024 * 1024;

/** A decode of `pieces` pieces of `size` bytes that counts its runs and can be held at a piece until released. */
function decoder(pieces: number, size = 10) {
  const state = { runs: 0, release: () => {} };
  let gate = Promise.resolve();
  const hold = () => {
    gate = new Promise((resolve) => (state.release = resolve));
  };
  const decode = async function* (): AsyncGenerator<TextPiece> {
    state.runs++;
    for (let i = 0; i < pieces; i++) {
      if (i === 1) await gate;
      yield { offset: i * size, text: Buffer.alloc(size, 97 + i) };
    }
  };
  return { state, hold, decode };
}

async function collect(pieces: AsyncIterable<TextPiece>): Promise<string> {
  let out = '';
  for await (const piece of pieces) out += piece.text.toString();
  return out;
}

describe('SnapshotTextCache', () => {
  it('decodes a log once for readers that come together and for those that come later', async () => {
    const cache = new SnapshotTextCache();
    const d = decoder(3);
    d.hold();
    const first = collect(cache.texts('log\0"e1"', 100, d.decode)!);
    const second = collect(cache.texts('log\0"e1"', 100, d.decode)!);
    d.state.release();
    const expected = 'a'.repeat(10) + 'b'.repeat(10) + 'c'.repeat(10);
    assert.equal(await first, expected);
    assert.equal(await second, expected);
    assert.equal(await collect(cache.texts('log\0"e1"', 100, d.decode)!), expected);
    assert.equal(d.state.runs, 1, 'one decode for three readers');
    assert.equal(cache.heldBytes, 30, 'counts the text once decoded, not the blob');
  });

  it('treats another etag of the same blob name as another log', async () => {
    const cache = new SnapshotTextCache();
    const d = decoder(1);
    await collect(cache.texts('log\0"e1"', 100, d.decode)!);
    await collect(cache.texts('log\0"e2"', 100, d.decode)!);
    assert.equal(d.state.runs, 2);
  });

  it('keeps no log whose blob is over 64 MiB, and stays within 128 MiB, dropping the least recently read first', async () => {
    const cache = new SnapshotTextCache();
    assert.equal(cache.texts('huge', 65 * MiB, decoder(1).decode), undefined, 'the caller decodes it itself');
    // Three logs of 60 MiB: the third needs the room of the least recently read one.
    const big = () => decoder(6, 10 * MiB);
    const a = big();
    const b = big();
    await collect(cache.texts('a', 60 * MiB, a.decode)!);
    await collect(cache.texts('b', 60 * MiB, b.decode)!);
    await collect(cache.texts('a', 60 * MiB, a.decode)!); // a is now the most recently read
    await collect(cache.texts('c', 60 * MiB, big().decode)!);
    assert.ok(cache.heldBytes <= 128 * MiB, `${cache.heldBytes} bytes held`);
    await collect(cache.texts('a', 60 * MiB, a.decode)!);
    assert.equal(a.state.runs, 1, 'a stayed');
    await collect(cache.texts('b', 60 * MiB, b.decode)!);
    assert.equal(b.state.runs, 2, 'b went and was decoded again');
  });

  it('refuses a log while the logs being decoded leave no room for it', async () => {
    const cache = new SnapshotTextCache();
    const a = decoder(3, MiB);
    const b = decoder(3, MiB);
    a.hold();
    b.hold();
    const ra = collect(cache.texts('a', 45 * MiB, a.decode)!);
    const rb = collect(cache.texts('b', 45 * MiB, b.decode)!);
    assert.equal(cache.texts('c', 45 * MiB, decoder(1).decode), undefined, 'logs being decoded are not dropped');
    a.state.release();
    b.state.release();
    await Promise.all([ra, rb]);
  });

  it('passes a failed decode to its readers and forgets it, so the next reader tries again', async () => {
    const cache = new SnapshotTextCache();
    let runs = 0;
    const failing = async function* (): AsyncGenerator<TextPiece> {
      runs++;
      yield { offset: 0, text: Buffer.from('x') };
      throw new Error('blob gone');
    };
    await assert.rejects(collect(cache.texts('f', 100, failing)!), /blob gone/);
    assert.equal(cache.heldBytes, 0);
    await assert.rejects(collect(cache.texts('f', 100, failing)!), /blob gone/);
    assert.equal(runs, 2);
  });
});
