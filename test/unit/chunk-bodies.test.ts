// The buffers chunk bodies are built in (archive/chunk-bodies.ts): one given
// back is lent again, so a draft's body written after another's reuses its
// memory and still holds exactly its own bytes; a buffer it did not lend, or
// one over its size, is never kept.
import assert from 'node:assert/strict';
import { giveBody, takeBody } from '../../archive/chunk-bodies.ts';
import { ChunkDraft } from '../../archive/chunk-draft.ts';
import { lineJson } from '../../stream/line-codec.ts';
import { encodeLines } from '../support/encode-lines.ts';

const NOW = '2024-01-01T00:00:00.000Z';

describe('chunk bodies', () => {
  it('lends a buffer given back again, and a draft body built in it holds exactly its own rows', () => {
    const big = takeBody(300 * 1024);
    big.fill(0x7a);
    giveBody(big);
    // Two batches (a draft of more than one part is copied into a lent buffer, not returned as its one piece).
    const first = encodeLines(0, 0, [{ out: 'a\n' }, { out: 'b\n' }], 1024, NOW);
    const second = encodeLines(2, 4, [{ out: 'c\n' }], 1024, NOW);
    const draft = new ChunkDraft();
    draft.add(first);
    draft.add(second);
    const body = draft.body();
    assert.equal(body.buffer, big.buffer, 'the buffer given back is lent again');
    assert.equal(body.length, draft.bytes);
    assert.ok(body.equals(Buffer.concat([...first, ...second].flatMap((line) => [lineJson(line), Buffer.from('\n')]))));
    giveBody(body);
  });

  it('keeps no buffer it did not lend, none over its size, and none given back twice', () => {
    const foreign = Buffer.alloc(1024);
    giveBody(foreign);
    assert.notEqual(takeBody(1024).buffer, foreign.buffer);
    const huge = takeBody(2 * 1024 * 1024);
    assert.equal(huge.length, 2 * 1024 * 1024);
    giveBody(huge);
    assert.notEqual(takeBody(2 * 1024 * 1024).buffer, huge.buffer, 'a body over the kept size has a buffer of its own');
    const lent = takeBody(10);
    giveBody(lent);
    giveBody(lent);
    const a = takeBody(10);
    const b = takeBody(10);
    assert.notEqual(a.buffer, b.buffer, 'given back twice, lent once');
  });
});
