// The bounded window of a stream's newest lines (stream/line-ring.ts).
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { LineRing } from '../../stream/line-ring.ts';
import { EncodedLine, eventHeadBytes } from '../../stream/line-block.ts';
import { encodeBlock, joinEvents, joinText } from '../../stream/line-codec.ts';
import type { StoredLine } from '../../stream/log-stream.ts';
import { encodeLines } from '../support/encode-lines.ts';

const NOW = '2024-01-01T00:00:00.000Z';

/** Lines pushed together: their events lie back to back in one buffer (a run). */
function pushed(firstSeq: number, firstOffset: number, outs: string[]): StoredLine[] {
  return encodeLines(
    firstSeq,
    firstOffset,
    outs.map((out) => ({ out })),
    1024,
    NOW,
  );
}

/** A line whose event is alone in its own memory (not pooled), so it never forms a run with another. */
function alone(seq: number, offset: number, out: string): StoredLine {
  const line = pushed(seq, offset, [out])[0]!;
  const event = Buffer.alloc(line.eventBytes);
  line.event.copy(event);
  return new EncodedLine(line.seq, line.offset, line.textBytes, event, 0, event.length, line.jsonStart, line.texts);
}

/** `count` lines pushed one by one from seq `first`, each "line <seq>\n" (equal sizes for seqs of equal digits). */
function appendAlone(ring: LineRing, first: number, count: number): StoredLine[] {
  const lines: StoredLine[] = [];
  for (let seq = first; seq < first + count; seq++) {
    const line = alone(seq, seq * 10, `line ${seq}\n`);
    ring.appendLines([line]);
    lines.push(line);
  }
  return lines;
}

const seqs = (lines: readonly StoredLine[]): number[] => lines.map((l) => l.seq);
/** What a line costs the ring's byte budget: its event and its text (both kept, encoded once at push). */
const held = (line: StoredLine): number => line.event.length + line.textBytes;
const sumBytes = (lines: readonly StoredLine[]): number => lines.reduce((n, l) => n + held(l), 0);
const concat = (lines: readonly StoredLine[]): Buffer => Buffer.concat(lines.map((l) => l.event));

describe('LineRing', () => {
  describe('appending and trimming', () => {
    it('starts empty at seq 0, with no bytes and nothing to read', () => {
      const ring = new LineRing(10, 1000);
      assert.equal(ring.firstSeq, 0);
      assert.equal(ring.nextSeq, 0);
      assert.equal(ring.size, 0);
      assert.equal(ring.retainedBytes, 0);
      assert.equal(ring.at(0), undefined);
      assert.deepEqual(ring.slice(0, 10, 1000), []);
    });

    it('keeps every appended line by seq while under both limits, counting their event and text bytes', () => {
      const ring = new LineRing(10, 1 << 20);
      const lines = appendAlone(ring, 0, 4);
      assert.equal(ring.firstSeq, 0);
      assert.equal(ring.nextSeq, 4);
      assert.equal(ring.size, 4);
      assert.equal(ring.retainedBytes, sumBytes(lines));
      for (const line of lines) assert.equal(ring.at(line.seq), line, `seq ${line.seq} is the very object appended`);
      assert.equal(ring.at(4), undefined);
      assert.equal(ring.at(-1), undefined);
    });

    it('drops the oldest lines beyond maxLines, moving firstSeq on and their bytes off the count', () => {
      const ring = new LineRing(3, 1 << 20);
      const lines = appendAlone(ring, 0, 5);
      assert.equal(ring.firstSeq, 2);
      assert.equal(ring.nextSeq, 5);
      assert.equal(ring.size, 3);
      assert.equal(ring.retainedBytes, sumBytes(lines.slice(2)));
      assert.equal(ring.at(1), undefined);
      assert.equal(ring.at(2), lines[2]);
      assert.equal(ring.at(4), lines[4]);
    });

    it('drops the oldest lines while the retained events and texts are over maxBytes', () => {
      const size = held(alone(10, 0, 'line 10\n')); // every line 10..19 has this size
      const ring = new LineRing(100, 3 * size + 1);
      ring.firstSeq = ring.nextSeq = 10;
      const lines = appendAlone(ring, 10, 10);
      assert.equal(ring.firstSeq, 17, 'three lines fit, a fourth would be over');
      assert.equal(ring.size, 3);
      assert.equal(ring.retainedBytes, 3 * size);
      assert.deepEqual(seqs(ring.slice(0, 100, Infinity)), [17, 18, 19]);
      assert.equal(ring.at(17), lines[7]);
    });

    it('keeps exactly maxBytes of events and texts: the budget is inclusive', () => {
      const size = held(alone(10, 0, 'line 10\n'));
      const ring = new LineRing(100, 3 * size);
      ring.firstSeq = ring.nextSeq = 10;
      appendAlone(ring, 10, 5);
      assert.equal(ring.firstSeq, 12);
      assert.equal(ring.retainedBytes, 3 * size);
    });

    it('keeps the newest line on its own when it alone is over the byte budget', () => {
      const ring = new LineRing(10, 50);
      const big = alone(0, 0, `${'x'.repeat(200)}\n`);
      ring.appendLines([big]);
      assert.equal(ring.size, 1);
      assert.equal(ring.at(0), big);
      assert.equal(ring.retainedBytes, held(big));
      const next = alone(1, 201, `${'y'.repeat(200)}\n`);
      ring.appendLines([next]);
      assert.equal(ring.firstSeq, 1, 'the older big line goes, the newest stays');
      assert.equal(ring.size, 1);
      assert.equal(ring.at(1), next);
      assert.equal(ring.retainedBytes, held(next));
    });

    it('continues from a seq set on an empty ring, as a Redis watch does after a gap', () => {
      const ring = new LineRing(10, 1 << 20);
      ring.firstSeq = 500;
      ring.nextSeq = 500;
      assert.equal(ring.size, 0);
      const lines = pushed(500, 9000, ['a\n', 'b\n']);
      for (const line of lines) ring.appendLines([line]);
      assert.equal(ring.firstSeq, 500);
      assert.equal(ring.nextSeq, 502);
      assert.equal(ring.at(500), lines[0]);
      assert.equal(ring.at(501), lines[1]);
      assert.equal(ring.at(499), undefined);
      assert.deepEqual(ring.slice(500, 10, Infinity), lines);
    });

    it('keeps the lines from heldFrom on past maxLines (the archive writer has not read them), but never past maxBytes', () => {
      const size = held(alone(10, 0, 'line 10\n'));
      const ring = new LineRing(3, 8 * size);
      ring.firstSeq = ring.nextSeq = 10;
      ring.heldFrom = 12;
      appendAlone(ring, 10, 6);
      assert.equal(ring.firstSeq, 12, 'the lines before heldFrom go at the line bound, the held ones stay');
      assert.equal(ring.size, 4);
      appendAlone(ring, 16, 4);
      assert.equal(ring.size, 8, 'held lines are bounded by bytes: 8 lines fill the byte budget');
      assert.equal(ring.firstSeq, 12);
      appendAlone(ring, 20, 1);
      assert.equal(ring.firstSeq, 13, 'past the byte budget even a held line goes');
      ring.heldFrom = 19;
      appendAlone(ring, 21, 1);
      assert.equal(ring.firstSeq, 19, 'once read, the line bound applies again');
      assert.equal(ring.size, 3);
    });
  });

  describe('slice: what a reader gets from a seq on', () => {
    it('returns consecutive lines from the seq asked for, at most maxLines of them', () => {
      const ring = new LineRing(100, 1 << 20);
      const lines = appendAlone(ring, 0, 10);
      assert.deepEqual(ring.slice(3, 4, Infinity), lines.slice(3, 7));
      assert.deepEqual(ring.slice(8, 100, Infinity), lines.slice(8));
      assert.deepEqual(ring.slice(0, 1, Infinity), [lines[0]]);
    });

    it('stops before the line that would take the read over maxBytes', () => {
      const ring = new LineRing(100, 1 << 20);
      appendAlone(ring, 0, 10);
      const size = ring.at(0)!.event.length; // seqs 0..9 all have this size
      assert.deepEqual(seqs(ring.slice(0, 100, 3 * size)), [0, 1, 2], 'exactly three fit');
      assert.deepEqual(seqs(ring.slice(0, 100, 3 * size - 1)), [0, 1]);
      assert.deepEqual(seqs(ring.slice(5, 100, 3 * size + 1)), [5, 6, 7]);
    });

    it('always returns the first line, even when it alone is over maxBytes, so a reader never stalls', () => {
      const ring = new LineRing(100, 1 << 20);
      appendAlone(ring, 0, 3);
      assert.deepEqual(seqs(ring.slice(1, 100, 1)), [1]);
      assert.deepEqual(seqs(ring.slice(1, 100, 0)), [1]);
    });

    it('starts a reader that fell behind at the oldest retained line; firstSeq tells which seqs were dropped', () => {
      const ring = new LineRing(4, 1 << 20);
      const lines = appendAlone(ring, 0, 10);
      const position = 2; // the reader had read seqs 0 and 1
      const read = ring.slice(position, 100, Infinity);
      assert.deepEqual(read, lines.slice(6));
      // What a cursor reports as its `dropped` range: position .. firstSeq - 1.
      assert.deepEqual({ from: position, to: ring.firstSeq - 1 }, { from: 2, to: 5 });
    });

    it('returns nothing at or past nextSeq, and nothing for maxLines 0', () => {
      const ring = new LineRing(100, 1 << 20);
      appendAlone(ring, 0, 3);
      assert.deepEqual(ring.slice(3, 100, Infinity), []);
      assert.deepEqual(ring.slice(50, 100, Infinity), []);
      assert.deepEqual(ring.slice(0, 0, Infinity), []);
    });

    it('gives every reader that asks the same the same array, until a line comes or goes', () => {
      const ring = new LineRing(5, 1 << 20);
      appendAlone(ring, 0, 3);
      const first = ring.slice(1, 100, 1 << 20);
      assert.equal(ring.slice(1, 100, 1 << 20), first, 'a hundred viewers woken by one push share one slice');
      const otherBound = ring.slice(1, 100, 1000);
      assert.notEqual(otherBound, first, 'another bound is another slice');
      assert.equal(ring.slice(1, 100, 1 << 20), first, "and does not take the viewers' slice's place (the archive writer asks with its own bounds)");
      assert.equal(ring.slice(1, 100, 1000), otherBound);
      const second = ring.slice(2, 1, 1 << 20);
      const third = ring.slice(0, 1, 1 << 20);
      assert.equal(ring.slice(2, 1, 1 << 20), second, 'viewers reading a big push batch by batch, each in its own time, share every batch');
      assert.equal(ring.slice(0, 1, 1 << 20), third);
      assert.deepEqual(seqs(ring.slice(1, 100, 1 << 20)), [1, 2]);
      appendAlone(ring, 3, 1);
      assert.deepEqual(seqs(ring.slice(1, 100, 1 << 20)), [1, 2, 3], 'a line appended since: the slice reaches it');
      appendAlone(ring, 4, 2); // over maxLines: seq 0 goes
      const afterDrop = ring.slice(0, 2, 1 << 20);
      assert.deepEqual(seqs(afterDrop), [1, 2], 'from the oldest retained line');
      ring.trimTo(held(ring.at(5)!) * 2);
      assert.deepEqual(seqs(ring.slice(0, 2, 1 << 20)), [4, 5], 'lines trimmed outside a push are not served from the old slice');
      ring.skipTo(20);
      assert.deepEqual(ring.slice(4, 2, 1 << 20), [], 'nor are lines a skip let go');
    });
  });

  describe('joinEvents of a slice: the bytes of a range of lines for one socket write', () => {
    it("returns a view into the push's buffer, without copying, for lines pushed together", () => {
      const ring = new LineRing(100, 1 << 20);
      const lines = pushed(0, 0, ['a\n', 'bb\n', 'ccc\n', 'dddd\n']);
      for (const line of lines) ring.appendLines([line]);
      const events = joinEvents(ring.slice(0, 4, Infinity));
      assert.deepEqual(events, concat(lines));
      assert.equal(events.buffer, lines[0]!.event.buffer, 'the same memory');
      assert.equal(events.byteOffset, lines[0]!.event.byteOffset);
    });

    it('starts and ends in the middle of a run', () => {
      const ring = new LineRing(100, 1 << 20);
      const lines = pushed(0, 0, ['a\n', 'bb\n', 'ccc\n', 'dddd\n', 'eeeee\n']);
      for (const line of lines) ring.appendLines([line]);
      const events = joinEvents(ring.slice(1, 3, Infinity));
      assert.deepEqual(events, concat(lines.slice(1, 4)));
      assert.equal(events.byteOffset, lines[1]!.event.byteOffset);
      const single = joinEvents(ring.slice(2, 1, Infinity));
      assert.deepEqual(single, lines[2]!.event, 'a single line is its own event');
      assert.equal(single.buffer, lines[2]!.eventRun.buffer, 'a view, not a copy');
      assert.equal(single.byteOffset, lines[2]!.event.byteOffset);
    });

    it('concatenates the runs of separate pushes in seq order', () => {
      const ring = new LineRing(100, 1 << 20);
      const first = pushed(0, 0, ['one\n', 'two\n']);
      const middle = alone(2, 8, 'three\n');
      const last = pushed(3, 14, ['four\n', 'five\n']);
      const all = [...first, middle, ...last];
      for (const line of all) ring.appendLines([line]);
      assert.deepEqual(joinEvents(ring.slice(0, 5, Infinity)), concat(all));
      assert.deepEqual(joinEvents(ring.slice(1, 3, Infinity)), concat(all.slice(1, 4)));
      assert.deepEqual(joinEvents(ring.slice(2, 3, Infinity)), concat(all.slice(2)));
    });

    it('sends the retained part of a run whose first lines were trimmed', () => {
      const ring = new LineRing(3, 1 << 20);
      const lines = pushed(0, 0, ['a\n', 'b\n', 'c\n', 'd\n', 'e\n']);
      for (const line of lines) ring.appendLines([line]);
      assert.equal(ring.firstSeq, 2);
      const events = joinEvents(ring.slice(2, 3, Infinity));
      assert.deepEqual(events, concat(lines.slice(2)));
      assert.equal(events.byteOffset, lines[2]!.event.byteOffset, 'still a view, starting at the oldest retained line');
    });
  });

  it('keeps seqs, offsets and events right over a long life, across the compaction of its storage', () => {
    const ring = new LineRing(1000, 1 << 30);
    const kept: StoredLine[] = [];
    let seq = 0;
    let offset = 0;
    for (let push = 0; push < 700; push++) {
      const outs = Array.from({ length: 7 }, (_, i) => `${push}.${i} ${'é'.repeat(i)}\n`);
      const lines = pushed(seq, offset, outs);
      for (const line of lines) ring.appendLines([line]);
      kept.push(...lines);
      seq += lines.length;
      offset = lines[lines.length - 1]!.offset + lines[lines.length - 1]!.textBytes;
      // After every push, both ends are where they should be.
      assert.equal(ring.at(ring.firstSeq)?.seq, ring.firstSeq);
      assert.equal(ring.at(ring.nextSeq - 1), lines[lines.length - 1]);
    }
    assert.equal(ring.nextSeq, 4900);
    assert.equal(ring.firstSeq, 3900);
    const window = kept.slice(3900);
    assert.equal(ring.retainedBytes, sumBytes(window));
    const read = ring.slice(3900, 1000, Infinity);
    assert.deepEqual(read, window);
    for (let i = 1; i < read.length; i++) {
      assert.equal(read[i]!.offset, read[i - 1]!.offset + read[i - 1]!.textBytes, `offsets continue at seq ${read[i]!.seq}`);
    }
    assert.deepEqual(joinEvents(ring.slice(3900, 1000, Infinity)), concat(window));
    assert.deepEqual(joinEvents(ring.slice(4444, 17, Infinity)), concat(kept.slice(4444, 4461)));
  });

  describe('a push kept as one block (line-block.ts), its lines made when read', () => {
    /** A push's lines as encodeLines makes them, and the block the ring keeps of the same push. */
    const push = (seq: number, offset: number, outs: string[]) => {
      const inputs = outs.map((out) => ({ out }));
      return { lines: encodeLines(seq, offset, inputs, 1024, NOW), block: encodeBlock(seq, offset, inputs, 1024, NOW) };
    };
    /** Every field of a line, and its event and text bytes, for deepEqual. */
    const fields = (line: StoredLine) => ({
      seq: line.seq,
      offset: line.offset,
      textBytes: line.textBytes,
      eventBytes: line.eventBytes,
      jsonStart: line.jsonStart,
      event: line.event.toString(),
      text: joinText([line]).toString(),
    });

    it('reads back every line of a block as encodeLines made it, across blocks and lines kept alone, from any seq', () => {
      const ring = new LineRing(1000, 1 << 20);
      const a = push(0, 0, ['a\n', 'bé\n', '', 'c\n']);
      const single = alone(4, 7, 'one\n');
      const b = push(5, 11, ['d\n', '中文\n']);
      ring.appendBlock(a.block);
      ring.appendLines([single]);
      ring.appendBlock(b.block);
      const all = [...a.lines, single, ...b.lines];
      assert.equal(ring.nextSeq, 7);
      assert.equal(ring.retainedBytes, sumBytes(all));
      for (let from = 0; from < 7; from++) {
        assert.deepEqual(ring.slice(from, 100, 1 << 20).map(fields), all.slice(from).map(fields), `from seq ${from}`);
        assert.deepEqual(fields(ring.at(from)!), fields(all[from]!));
      }
      assert.equal(ring.at(4), single, 'a line kept alone is the very object');
      assert.deepEqual(joinEvents(ring.slice(0, 100, 1 << 20)), concat(all));
    });

    it("gives a block's lines one run, so a batch of them is one view of the push's buffer", () => {
      const ring = new LineRing(1000, 1 << 20);
      const { block } = push(10, 100, ['x\n', 'yy\n', 'zzz\n']);
      ring.appendBlock(block);
      const events = joinEvents(ring.slice(11, 2, 1 << 20));
      assert.equal(events.buffer, block.run.buffer, 'a view, not a copy');
      assert.equal(
        events.toString(),
        `id: 11\ndata: ${JSON.stringify({ level: 'info', pos: 11, out: 'yy\n', time: NOW })}\n\nid: 12\ndata: ${JSON.stringify({ level: 'info', pos: 12, out: 'zzz\n', time: NOW })}\n\n`,
      );
      assert.equal(joinText(ring.slice(10, 3, 1 << 20)).toString(), 'x\nyy\nzzz\n');
    });

    it('trims a block line by line, counting exactly the bytes of the lines it keeps, by lines and by bytes', () => {
      const byLines = new LineRing(5, 1 << 20);
      const a = push(0, 0, ['a\n', 'bb\n', 'ccc\n', 'dddd\n']);
      const b = push(4, 14, ['e\n', 'ff\n', 'ggg\n']);
      byLines.appendBlock(a.block);
      byLines.appendBlock(b.block);
      const all = [...a.lines, ...b.lines];
      assert.equal(byLines.firstSeq, 2, 'two lines of the first block went');
      assert.equal(byLines.retainedBytes, sumBytes(all.slice(2)));
      assert.deepEqual(byLines.slice(0, 100, 1 << 20).map(fields), all.slice(2).map(fields));
      assert.equal(byLines.at(1), undefined);
      const byBytes = new LineRing(100, sumBytes(all.slice(5)));
      byBytes.appendBlock(a.block);
      byBytes.appendBlock(b.block);
      assert.equal(byBytes.firstSeq, 5, 'the whole first block and a line of the second went');
      assert.equal(byBytes.retainedBytes, sumBytes(all.slice(5)));
      assert.deepEqual(byBytes.slice(0, 100, 1 << 20).map(fields), all.slice(5).map(fields));
    });

    it('bounds a batch by its bytes across blocks as it does lines (the first line always)', () => {
      const ring = new LineRing(100, 1 << 20);
      const a = push(0, 0, ['a\n', 'b\n']);
      const b = push(2, 4, ['c\n', 'd\n']);
      ring.appendBlock(a.block);
      ring.appendBlock(b.block);
      const all = [...a.lines, ...b.lines];
      const three = all[0]!.eventBytes + all[1]!.eventBytes + all[2]!.eventBytes;
      assert.deepEqual(seqs(ring.slice(0, 100, three)), [0, 1, 2]);
      assert.deepEqual(seqs(ring.slice(0, 100, three - 1)), [0, 1]);
      assert.deepEqual(seqs(ring.slice(1, 100, 1)), [1], 'the first line always');
      assert.deepEqual(seqs(ring.slice(1, 2, 1 << 20)), [1, 2], 'and at most maxLines');
    });

    it('keeps its seqs right after a skip and across the compaction of thousands of blocks', () => {
      const ring = new LineRing(50, 1 << 30);
      ring.skipTo(1000);
      let seq = 1000;
      for (let n = 0; n < 3000; n++) {
        ring.appendBlock(push(seq, seq, ['p\n', 'q\n', 'r\n']).block);
        seq += 3;
        assert.equal(ring.firstSeq, Math.max(1000, seq - 50));
      }
      assert.equal(ring.at(seq - 1)?.seq, seq - 1);
      assert.equal(ring.at(seq - 50)?.seq, seq - 50);
      assert.deepEqual(seqs(ring.slice(0, 7, 1 << 20)), [seq - 50, seq - 49, seq - 48, seq - 47, seq - 46, seq - 45, seq - 44]);
    });

    it("keeps a block's line objects from its second read on, never for a reader that reads each line once", () => {
      const ring = new LineRing(100, 1 << 20);
      ring.appendBlock(push(0, 0, ['a\n', 'b\n', 'c\n']).block);
      ring.appendBlock(push(3, 6, ['d\n']).block);
      const once = ring.slice(0, 2, 1 << 20, true);
      assert.notEqual(ring.slice(0, 2, 1 << 20, true), once, "a once-reader's lines are its own, not shared");
      assert.notEqual(ring.at(1), ring.at(1), 'and no block keeps them, however often');
      const first = ring.slice(1, 1, 1 << 20);
      assert.notEqual(ring.at(1), first[0], 'one pass (a snapshot, a probe) leaves no line objects behind');
      const second = ring.slice(0, 3, 1 << 20);
      assert.equal(ring.at(0), second[0], 'read again, the block keeps its lines');
      assert.equal(ring.slice(2, 1, 1 << 20)[0], second[2], 'and gives every later reader the same objects');
      assert.notEqual(ring.at(3), ring.at(3), 'a block read by nobody keeps none');
      assert.equal(ring.slice(0, 4, 1)[0], second[0], 'a batch the byte bound stops inside the first block does not touch the next');
      ring.slice(3, 1, 1 << 20);
      assert.notEqual(ring.at(3), ring.at(3), 'the next block was read once only');
    });

    it('leaves no line objects behind after one reader passes over a push batch by batch, and keeps them once lines are read again', () => {
      const ring = new LineRing(100, 1 << 20);
      ring.appendBlock(push(0, 0, ['a\n', 'b\n', 'c\n', 'd\n', 'e\n', 'f\n']).block);
      // A viewer (or a snapshot) reading a big push in batches: each batch starts where the last ended.
      assert.deepEqual(seqs(ring.slice(0, 2, 1 << 20)), [0, 1]);
      assert.deepEqual(seqs(ring.slice(2, 2, 1 << 20)), [2, 3]);
      assert.deepEqual(seqs(ring.slice(4, 2, 1 << 20)), [4, 5]);
      for (const seq of [0, 3, 5]) assert.notEqual(ring.at(seq), ring.at(seq), `line ${seq} is not kept after one pass`);
      const again = ring.slice(1, 3, 1 << 20);
      assert.equal(ring.at(1), again[0], 'lines read a second time are kept');
      assert.equal(ring.at(5), ring.at(5), 'and the rest of the block with them');
      assert.equal(ring.at(0), ring.at(0));
    });

    it('keeps the line objects of a block from the first line read on, not those of lines the ring had dropped', () => {
      const ring = new LineRing(3, 1 << 20);
      const { block } = push(
        0,
        0,
        Array.from({ length: 10 }, (_, i) => `line ${i}\n`),
      );
      ring.appendBlock(block);
      assert.equal(ring.firstSeq, 7);
      ring.slice(7, 2, 1 << 20);
      ring.slice(8, 2, 1 << 20);
      assert.equal(ring.at(8), ring.at(8), 'kept after the second read');
      assert.equal((block as unknown as { kept?: unknown[] }).kept?.length, 3, 'lines 7 to 9 only');
    });

    it('copies a head block mostly trimmed down to the lines it keeps, so that the ring holds what it counts', () => {
      const outs = Array.from({ length: 1000 }, (_, i) => `line ${i} ${'x'.repeat(i % 17)}\n`);
      const { lines, block } = push(0, 0, outs);
      const ring = new LineRing(100, 1 << 30);
      ring.appendBlock(block);
      assert.equal(ring.firstSeq, 900);
      assert.equal(ring.retainedBytes, sumBytes(lines.slice(900)));
      assert.equal(ring.at(900)!.eventRun.length, ring.retainedBytes, "the retained lines' bytes, not the push's");
      assert.deepEqual(ring.slice(900, 1000, 1 << 20).map(fields), lines.slice(900).map(fields));
      assert.deepEqual(joinEvents(ring.slice(950, 1000, 1 << 20)), concat(lines.slice(950)));
      assert.equal(joinText(ring.slice(900, 1000, 1 << 20)).toString(), outs.slice(900).join(''));
      // Trimmed further, within the copy: below COMPACT_MIN_BYTES dropped, it stays as it is.
      const next = push(1000, lines[999]!.offset + lines[999]!.textBytes, ['y\n', 'z\n']);
      const run = ring.at(950)!.eventRun;
      ring.appendBlock(next.block);
      assert.equal(ring.firstSeq, 902);
      assert.equal(ring.at(950)!.eventRun, run, 'a small trim copies nothing');
      const all = [...lines, ...next.lines];
      assert.equal(ring.retainedBytes, sumBytes(all.slice(902)));
      assert.deepEqual(ring.slice(902, 1000, 1 << 20).map(fields), all.slice(902).map(fields));
    });

    it('copies a block down when the byte budget trims it too (trimTo, the process-wide memory budget)', () => {
      const outs = Array.from({ length: 1000 }, (_, i) => `line ${i}\n`);
      const { lines, block } = push(0, 0, outs);
      const ring = new LineRing(100_000, 1 << 30);
      ring.appendBlock(block);
      const dropped = ring.trimTo(sumBytes(lines.slice(990)));
      assert.equal(dropped, 990);
      assert.equal(ring.at(990)!.eventRun.length, ring.retainedBytes);
      assert.deepEqual(ring.slice(0, 100, 1 << 20).map(fields), lines.slice(990).map(fields));
      const small = new LineRing(100_000, 1 << 30);
      const few = push(0, 0, ['a\n', 'b\n', 'c\n', 'd\n']);
      small.appendBlock(few.block);
      small.trimTo(sumBytes(few.lines.slice(1)));
      assert.equal(small.at(1)!.eventRun, few.block.run, 'under COMPACT_MIN_BYTES dropped, nothing is copied');
    });

    it('keeps lines appended together (a Redis push or read) as the very objects, trimmed and bounded like a block', () => {
      const lines = encodeLines(
        0,
        0,
        Array.from({ length: 400 }, (_, i) => ({ out: `line ${i} ${'y'.repeat(100)}\n` })),
        1024,
        NOW,
      );
      const ring = new LineRing(50, 1 << 30);
      ring.appendLines(lines.slice(0, 200));
      ring.appendLines(lines.slice(200));
      assert.equal(ring.firstSeq, 350);
      assert.equal(ring.retainedBytes, sumBytes(lines.slice(350)));
      assert.equal(ring.at(350), lines[350], 'the very object');
      assert.deepEqual(ring.slice(340, 100, 1 << 20), lines.slice(350));
      const byBytes = new LineRing(1000, sumBytes(lines.slice(390)));
      byBytes.appendLines(lines);
      assert.equal(byBytes.firstSeq, 390);
      assert.equal(byBytes.retainedBytes, sumBytes(lines.slice(390)));
      assert.deepEqual(byBytes.slice(0, 100, 1 << 20), lines.slice(390));
    });

    it('makes the same head length as the event has for any seq', () => {
      for (const seq of [0, 9, 10, 99, 100, 12345, 2 ** 40]) assert.equal(eventHeadBytes(seq), `id: ${seq}\ndata: `.length);
    });

    it('holds a stream of 100,000 lines in a few bytes of heap a line, not one object a line', () => {
      // A full GC on demand, without starting node with --expose-gc.
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      const ring = new LineRing(100_000, 1 << 30);
      const outs = Array.from({ length: 100 }, (_, i) => `line ${i}\n`);
      // Warm up the encoder so that its code is not counted.
      encodeBlock(
        0,
        0,
        outs.map((out) => ({ out })),
        1024,
        NOW,
      );
      gc();
      const before = process.memoryUsage().heapUsed;
      const inputs = outs.map((out) => ({ out }));
      for (let n = 0; n < 1000; n++) ring.appendBlock(encodeBlock(n * 100, n * 800, inputs, 1024, NOW));
      gc();
      const perLine = (process.memoryUsage().heapUsed - before) / 100_000;
      assert.equal(ring.size, 100_000);
      // A line object alone is 88 bytes; a block is ~400 bytes of heap for 100 lines.
      assert.ok(perLine < 20, `the ring's heap grew by ${perLine.toFixed(1)} bytes a line`);
    });
  });
});
