// The chunk the archive writer fills and seals (archive/chunk-draft.ts): the
// rows of the batches it read, the numbers of its blob name, and its lines
// read back for readers of lines not yet written.
import assert from 'node:assert/strict';
import { ChunkDraft } from '../../archive/chunk-draft.ts';
import { encodeChunk } from '../../archive/chunk-format.ts';
import { joinEvents, joinText } from '../../stream/line-codec.ts';
import type { StoredLine } from '../../stream/log-stream.ts';
import { draftOf, encodeLines } from '../support/encode-lines.ts';

const NOW = '2024-01-01T00:00:00.000Z';

/** Two batches of one stream, as the writer reads them: consecutive seqs and offsets, UTF-8 and empty lines too. */
function batches(): StoredLine[][] {
  const first = encodeLines(40, 1000, [{ out: 'a\n' }, { out: 'bé\n', level: 'warn' }, { out: '' }], 1024, NOW);
  const last = first[first.length - 1]!;
  const second = encodeLines(43, last.offset + last.textBytes, [{ out: '中\n' }, { out: 'c "q"\n', pos: 7 }], 1024, NOW);
  return [first, second];
}

describe('ChunkDraft', () => {
  it("holds the rows of every batch added, in one body: the chunk's blob, as encodeChunk makes it of the lines", () => {
    const [first, second] = batches();
    const draft = new ChunkDraft();
    draft.add(first!);
    draft.add([]);
    draft.add(second!);
    const all = [...first!, ...second!];
    assert.ok(draft.body().equals(encodeChunk(all)));
    assert.equal(draft.bytes, encodeChunk(all).length);
    assert.deepEqual(draft.entry('blob', 9), {
      blob: 'blob',
      gen: 9,
      firstSeq: 40,
      lines: 5,
      firstOffset: 1000,
      textBytes: all.reduce((n, line) => n + line.textBytes, 0),
    });
    assert.equal(draft.endSeq, 45);
  });

  it('reads back any range of its lines, across batches, with the events and texts the ring had', () => {
    const [first, second] = batches();
    const draft = draftOf(first!);
    draft.add(second!);
    const all = [...first!, ...second!];
    for (let from = 40; from < 45; from++) {
      for (let to = from; to < 45; to++) {
        const lines = draft.slice(from, to, Infinity);
        const expected = all.slice(from - 40, to - 40 + 1);
        assert.deepEqual(
          lines.map((line) => [line.seq, line.offset, line.textBytes]),
          expected.map((line) => [line.seq, line.offset, line.textBytes]),
          `${from}..${to}`,
        );
        assert.ok(joinEvents(lines).equals(joinEvents(expected)), `events ${from}..${to}`);
        assert.ok(joinText(lines).equals(joinText(expected)), `texts ${from}..${to}`);
      }
    }
    assert.deepEqual(
      draft.slice(41, 44, 2).map((line) => line.seq),
      [41, 42],
      'at most maxLines',
    );
    assert.deepEqual(draft.slice(45, 50, 10), [], 'nothing past its end');
  });

  it('reads back the texts of lines whose lone surrogates would pair across lines, each as UTF-8 makes it alone', () => {
    const outs = ['a\ud83d', '\ude00b', 'c\n'];
    const lines = encodeLines(
      0,
      0,
      outs.map((out) => ({ out })),
      1024,
      NOW,
    );
    const draft = draftOf(lines);
    const back = draft.slice(0, 2, Infinity);
    for (const [i, out] of outs.entries()) {
      assert.ok(joinText([back[i]!]).equals(Buffer.from(out, 'utf8')), `line ${i}`);
      assert.equal(back[i]!.offset, lines[i]!.offset);
    }
  });

  it('reads each batch back once, and every reader shares its lines', () => {
    const [first, second] = batches();
    const draft = draftOf(first!);
    draft.add(second!);
    const a = draft.slice(40, 44, Infinity);
    const b = draft.slice(42, 44, Infinity);
    assert.equal(b[0], a[2], 'the same line objects');
    assert.equal(b[2], a[4]);
  });
});
