// The chunk the archive writer fills and seals (archive/chunk-draft.ts): the
// rows of the batches it read, the numbers of its blob name, and its lines
// read back for readers of lines not yet written.
import assert from 'node:assert/strict';
import { ChunkDraft } from '../../archive/chunk-draft.ts';
import { encodeChunk } from '../../archive/chunk-format.ts';
import { encodeBlock, joinEvents, joinText, lineJson } from '../../stream/line-codec.ts';
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

describe('encodeChunk', () => {
  it("writes each line's JSON and a newline, for lines of one push's block (a run), of several, and alone", () => {
    const block = (seq: number, offset: number, outs: string[]) =>
      encodeBlock(
        seq,
        offset,
        outs.map((out, i) => (i === 1 ? { out, level: 'warn', pos: 3 } : { out })),
        1024,
        NOW,
      ).lines();
    const a = block(0, 0, ['a\n', 'bé "q"\n', '', '中文 \t\n']);
    const lone = encodeLines(4, 17, [{ out: 'lone\n' }], 1024, NOW);
    const b = block(5, 22, ['x\n', 'y\n', 'z\n']);
    const rows = (lines: readonly StoredLine[]) => Buffer.concat(lines.flatMap((line) => [lineJson(line), Buffer.from('\n')]));
    for (const lines of [[...a, ...lone, ...b], a.slice(1, 3), [a[3]!, ...lone, b[0]!], b.slice(2), []]) {
      assert.ok(encodeChunk(lines).equals(rows(lines)), `seqs ${lines.map((l) => l.seq).join(',')}`);
    }
  });
});

describe('ChunkDraft', () => {
  it("holds the rows of every batch added, in one body: the chunk's blob, each line's JSON and a newline", () => {
    const [first, second] = batches();
    const draft = new ChunkDraft();
    draft.add(first!);
    draft.add([]);
    draft.add(second!);
    const all = [...first!, ...second!];
    // Each line's JSON and a newline, made here from the lines, not by encodeChunk (which the draft uses).
    const rows = Buffer.concat(all.flatMap((line) => [lineJson(line), Buffer.from('\n')]));
    assert.ok(draft.body().equals(rows));
    assert.equal(draft.bytes, rows.length);
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
