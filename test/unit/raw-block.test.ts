// A push kept as sent (stream/raw-block.ts): its lines, made when first read,
// are those encodeBlock makes at push; what the ring counts for it is fixed
// and additive; the archive writer finds it unread in the ring
// (LineRing.sentFrom) and copies its body into a chunk, which reads back
// (decodeChunk) and becomes snapshot rows (snapshotRowsOf) as the same lines.
import assert from 'node:assert/strict';
import { ChunkDraft } from '../../archive/chunk-draft.ts';
import { decodeChunk, snapshotRowsOf } from '../../archive/chunk-format.ts';
import { encodeBlock, joinEvents, joinText, lineJson } from '../../stream/line-codec.ts';
import { LineRing } from '../../stream/line-ring.ts';
import type { LineInput, StoredLine } from '../../stream/log-stream.ts';
import { keptAsSent, RawBlock } from '../../stream/raw-block.ts';

const NOW = '2024-01-01T00:00:00.000Z';

/** A JSON array body of `inputs` as a producer sends it (its own key order and spacing). */
function bodyOf(inputs: readonly LineInput[], spacing = ''): Buffer {
  return Buffer.from(`[${spacing}${inputs.map((input) => JSON.stringify(input)).join(`,${spacing}`)}]`, 'latin1');
}

/** The same body with every character above U+007F written as a `\\u` escape: ASCII, as Python's json.dumps sends it. */
function escapedBodyOf(inputs: readonly LineInput[]): Buffer {
  const text = JSON.stringify(inputs).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return Buffer.from(text, 'latin1');
}

const INPUTS: LineInput[] = [
  { out: 'plain\n' },
  { out: 'with "quotes" and \\ and a tab\t\n', level: 'warn' },
  { out: '', pos: 42 },
  { out: 'timed\n', time: '2023-05-06T07:08:09Z' },
  { out: 'args\n', args: { a: 1, b: ['x'] } },
  { out: '\u001b[31mred\u001b[0m\n' },
];

function rawBlock(firstSeq: number, firstOffset: number, inputs: readonly LineInput[], body = bodyOf(inputs)): RawBlock {
  const block = keptAsSent(firstSeq, firstOffset, inputs, body, 1024, NOW);
  assert.ok(block !== undefined);
  return block;
}

function linesOf(entry: { count: number; line(i: number): StoredLine }): StoredLine[] {
  return Array.from({ length: entry.count }, (_, i) => entry.line(i));
}

function sameLines(actual: readonly StoredLine[], expected: readonly StoredLine[]): void {
  assert.deepEqual(
    actual.map((line) => [line.seq, line.offset, line.textBytes]),
    expected.map((line) => [line.seq, line.offset, line.textBytes]),
  );
  assert.ok(joinEvents(actual).equals(joinEvents(expected)), 'events');
  assert.ok(joinText(actual).equals(joinText(expected)), 'texts');
}

describe('RawBlock (a push kept as sent)', () => {
  it('makes, when first read, the lines encodeBlock makes at push, and lets its body go', () => {
    for (const spacing of ['', '\n  ']) {
      const raw = rawBlock(7, 100, INPUTS, bodyOf(INPUTS, spacing));
      const expected = encodeBlock(7, 100, INPUTS, 1024, NOW);
      assert.equal(raw.textBytes, expected.textBytes);
      assert.ok(raw.asSent !== undefined);
      sameLines(linesOf(raw), expected.lines());
      assert.equal(raw.asSent, undefined);
      assert.equal(raw.eventBytes(1), expected.eventBytes(1));
    }
  });

  it('counts the UTF-8 bytes of characters an ASCII body writes as escapes: the text offsets of the lines made', () => {
    const inputs: LineInput[] = [{ out: 'café\n' }, { out: '中文 😀\n' }, { out: 'a\ud800' }, { out: '\udc00b\n' }, { out: 'next\n' }];
    const body = escapedBodyOf(inputs);
    assert.ok(body.every((byte) => byte < 0x80));
    const raw = rawBlock(3, 50, inputs, body);
    const expected = encodeBlock(3, 50, inputs, 1024, NOW);
    assert.equal(raw.textBytes, expected.textBytes);
    assert.equal(raw.asSent!.textBytes, expected.textBytes);
    sameLines(linesOf(raw), expected.lines());
  });

  it('is not kept as sent when a line is over the line limit in bytes, though not in characters (it would be cut)', () => {
    const inputs = [{ out: '中'.repeat(400) }];
    assert.equal(keptAsSent(0, 0, inputs, escapedBodyOf(inputs), 1024, NOW), undefined);
  });

  it('never counts less than its lines hold once made, whatever JSON writes longer than the body did (numbers)', () => {
    const body = Buffer.from(
      `[${Array.from({ length: 50 }, (_, i) => `{"out":"x","pos":1e15,"args":{"a":[1e20,1e20,1e20,1e20],"b":${i}}}`).join(',')}]`,
      'latin1',
    );
    const inputs = JSON.parse(body.toString('latin1')) as LineInput[];
    const raw = rawBlock(0, 0, inputs, body);
    const made = encodeBlock(0, 0, inputs, 1024, NOW);
    assert.ok(raw.bytes(0, raw.count) >= made.bytes(0, made.count), `counted ${raw.bytes(0, raw.count)}, made ${made.bytes(0, made.count)}`);
  });

  it('is not kept as sent when a line is over the line limit (it would be cut) or there is no body', () => {
    assert.equal(keptAsSent(0, 0, [{ out: 'x'.repeat(2000) }], bodyOf([{ out: 'x'.repeat(2000) }]), 1024, NOW), undefined);
    assert.equal(keptAsSent(0, 0, INPUTS, undefined, 1024, NOW), undefined);
    assert.equal(keptAsSent(0, 0, [], Buffer.from('[]'), 1024, NOW), undefined);
  });

  it('counts fixed, additive bytes close to what its lines hold once made', () => {
    const inputs = Array.from({ length: 100 }, (_, i) => ({ out: `line ${i} ${'x'.repeat(80)}\n` }));
    const raw = rawBlock(1000, 0, inputs);
    const counted = raw.bytes(0, 100);
    assert.equal(raw.bytes(0, 37) + raw.bytes(37, 100), counted);
    assert.equal(raw.bytes(5, 5), 0);
    const made = encodeBlock(1000, 0, inputs, 1024, NOW);
    const real = made.bytes(0, 100);
    // The body's commas and brackets are shared out among its elements: a byte a line at most.
    assert.ok(Math.abs(counted - real) <= 101, `counted ${counted}, made ${real}`);
    linesOf(raw);
    assert.equal(raw.bytes(0, 100), counted, 'reading it does not change what it counts');
  });

  it('cuts down to a tail of the same lines, counting what the lines it keeps counted', () => {
    const raw = rawBlock(0, 0, INPUTS);
    const tail = raw.tail(2);
    assert.equal(tail.firstSeq, 2);
    assert.equal(tail.bytes(0, tail.count), raw.bytes(2, raw.count));
    sameLines(linesOf(tail), encodeBlock(0, 0, INPUTS, 1024, NOW).lines().slice(2));
  });
});

describe('LineRing with pushes kept as sent cut inside by a bound', () => {
  it('counts what it keeps of a push of uneven lines line by line, not at the even share, whether its lines were made or not', () => {
    for (const read of [false, true]) {
      const ring = new LineRing(100_000, 200_000);
      // 3,000 empty lines, then 3 of 60 KB: the bound will fall among the empty ones.
      const inputs = [...Array.from({ length: 3000 }, () => ({ out: '' })), ...Array.from({ length: 3 }, () => ({ out: 'x'.repeat(60_000) }))];
      const raw = keptAsSent(0, 0, inputs, bodyOf(inputs), 65_536, NOW)!;
      ring.appendBlock(raw);
      if (read) ring.slice(0, 10, 1_000_000);
      let seq = raw.count;
      let offset = raw.textBytes;
      for (let i = 0; i < 200; i++) {
        const block = encodeBlock(seq, offset, [{ out: 'y'.repeat(50) }], 65_536, NOW);
        ring.appendBlock(block);
        seq += 1;
        offset += block.textBytes;
      }
      assert.ok(ring.firstSeq > 0 && ring.firstSeq < raw.count, `the bound falls inside the push (first seq ${ring.firstSeq})`);
      let held = 0;
      for (let s = ring.firstSeq; s < ring.nextSeq; s++) held += ring.at(s)!.eventBytes + ring.at(s)!.textBytes;
      assert.ok(ring.retainedBytes <= 200_000, `within its bound: ${ring.retainedBytes}`);
      // Its own count a line: within a few bytes a line of what the lines hold.
      assert.ok(Math.abs(ring.retainedBytes - held) <= 2 * (ring.nextSeq - ring.firstSeq), `counts ${ring.retainedBytes}, holds ${held} (read first: ${read})`);
    }
  });
});

describe('LineRing.sentFrom (the archive writer’s read)', () => {
  it('gives whole unread pushes from the seq on, at least one, then within the lines and bytes asked', () => {
    const ring = new LineRing(100_000, 100_000_000);
    const pushes = [0, 3, 6, 9].map((seq) => rawBlock(seq, seq * 10, INPUTS.slice(0, 3)));
    for (const push of pushes) ring.appendBlock(push);
    assert.deepEqual(
      ring.sentFrom(0, 1_000, 1_000_000)?.map((sent) => sent.firstSeq),
      [0, 3, 6, 9],
    );
    assert.deepEqual(
      ring.sentFrom(3, 4, 1_000_000)?.map((sent) => sent.firstSeq),
      [3],
      'a second push would pass maxLines',
    );
    assert.deepEqual(
      ring.sentFrom(3, 1, 1)?.map((sent) => sent.firstSeq),
      [3],
      'the first push always',
    );
    assert.equal(ring.sentFrom(4, 1_000, 1_000_000), undefined, 'not from inside a push');
    ring.slice(6, 3, 1_000_000);
    assert.equal(ring.sentFrom(6, 1_000, 1_000_000), undefined, 'a push whose lines a viewer read is read as lines');
    assert.deepEqual(
      ring.sentFrom(0, 1_000, 1_000_000)?.map((sent) => sent.firstSeq),
      [0, 3],
      'up to the read push',
    );
  });
});

describe('chunks holding pushes kept as sent', () => {
  it('read back, and become snapshot rows, as the lines encoded at push', () => {
    const before = encodeBlock(40, 1000, [{ out: 'row\n' }, { out: 'é\n' }], 1024, NOW).lines();
    const afterRows = before[1]!.offset + before[1]!.textBytes;
    const raw = rawBlock(42, afterRows, INPUTS, bodyOf(INPUTS, '\n'));
    const sent = raw.asSent!;
    const after = encodeBlock(42 + INPUTS.length, afterRows + raw.textBytes, [{ out: 'tail\n' }], 1024, NOW).lines();
    const draft = new ChunkDraft();
    draft.add(before);
    draft.addPush(sent);
    draft.add(after);
    const all = [...before, ...encodeBlock(42, afterRows, INPUTS, 1024, NOW).lines(), ...after];
    const entry = draft.entry('blob', 1);
    assert.equal(entry.lines, all.length);
    assert.equal(
      entry.textBytes,
      all.reduce((n, line) => n + line.textBytes, 0),
    );
    const body = draft.body();
    assert.ok(body.includes('{"~push":'));
    sameLines(decodeChunk(entry, body), all);
    // The lines read back for readers of lines not yet written.
    sameLines(draft.slice(41, 1_000, 1_000), all.slice(1));
    // Each line's JSON and a newline, made here from the lines.
    const rows = Buffer.concat(all.flatMap((line) => [lineJson(line), Buffer.from('\n')]));
    assert.ok(snapshotRowsOf(entry, body).equals(rows));
  });

  it("are copied as stored when they hold no push, even when a line's text mentions the mark", () => {
    const lines = encodeBlock(0, 0, [{ out: '{"~push":\n' }, { out: 'x\n' }], 1024, NOW).lines();
    const draft = new ChunkDraft();
    draft.add(lines);
    const body = draft.body();
    assert.equal(snapshotRowsOf(draft.entry('b', 1), body), body, 'the very buffer: nothing rewritten');
    sameLines(decodeChunk(draft.entry('b', 1), body), lines);
  });

  it('that mention the mark where a row can (an args key) are rewritten into the same rows', () => {
    const lines = encodeBlock(0, 0, [{ out: 'a\n', args: { '~push': 1 } }, { out: 'x\n' }], 1024, NOW).lines();
    const draft = new ChunkDraft();
    draft.add(lines);
    const body = draft.body();
    assert.ok(body.includes('{"~push":'));
    assert.ok(snapshotRowsOf(draft.entry('b', 1), body).equals(Buffer.concat(lines.flatMap((line) => [lineJson(line), Buffer.from('\n')]))));
    sameLines(decodeChunk(draft.entry('b', 1), body), lines);
  });
});
