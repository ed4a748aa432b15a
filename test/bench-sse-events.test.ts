// The bench's SSE viewers count losses by splitting the body into events
// (bench/lib/sse-events.ts): a wrong split would hide a lost, doubled or
// `dropped` event, or invent one. Checked against the obvious byte-by-byte
// scan on seeded random input, cut into pieces every way the socket may cut it;
// and the baselines' SSE framing against the service's own (bench/lib/sse-frame.ts).
import assert from 'node:assert/strict';
import { eventEnd, wholeEvents } from '../bench/lib/sse-events.ts';
import { sseLineEvent } from '../bench/lib/sse-frame.ts';
import { encodeLine, normaliseLine } from '../stream/line-codec.ts';

/** A small seeded generator (mulberry32): the same cases on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function naiveEventEnd(buf: Buffer, from: number): number {
  for (let i = from; i + 1 < buf.length; i++) if (buf[i] === 10 && buf[i + 1] === 10) return i;
  return -1;
}

/** Events as the service frames them, with the other kinds a viewer meets between them. */
function sseBody(rand: () => number, events: number): Buffer {
  let text = 'retry: 3000\n: ping\n\n';
  for (let id = 0; id < events; id++) {
    const kind = rand();
    if (kind < 0.05) text += `event: dropped\ndata: {"from":${id},"to":${id + 3}}\n\n`;
    else if (kind < 0.1) text += ': ping\n\n';
    text += `id: ${id}\ndata: {"level":"info","pos":${id},"out":"ts=${Math.floor(rand() * 1e9)} n=${id} ${'x'.repeat(Math.floor(rand() * 40))}\\n","time":"2026-12-06T18:00:00.000Z"}\n\n`;
  }
  return Buffer.from(text + 'event: eof\ndata: eof\n\n');
}

describe('bench SSE event splitting', () => {
  it('eventEnd finds the first blank line at or after the start, as a byte-by-byte scan does', () => {
    const rand = random(1);
    for (let t = 0; t < 100_000; t++) {
      const buf = Buffer.alloc(Math.floor(rand() * 14));
      for (let i = 0; i < buf.length; i++) buf[i] = rand() < 0.4 ? 10 : 65;
      const from = Math.floor(rand() * (buf.length + 1));
      assert.equal(eventEnd(buf, from), naiveEventEnd(buf, from), `${JSON.stringify(buf.toString('latin1'))} from ${from}`);
    }
  });

  it('wholeEvents hands on every event once, whole and in order, however the body is cut', () => {
    const rand = random(2);
    for (let t = 0; t < 300; t++) {
      const body = sseBody(rand, 1 + Math.floor(rand() * 30));
      const got: Buffer[] = [];
      const feed = wholeEvents((events) => {
        // Each hand-over is whole events: it ends in a blank line, and the next starts an event.
        assert.equal(events.subarray(-2).toString('latin1'), '\n\n');
        got.push(Buffer.from(events));
      });
      // Pieces of 1–5 bytes, or cut at / just after blank lines, or large: every boundary case.
      const style = t % 3;
      for (let at = 0; at < body.length;) {
        let size = style === 0 ? 1 + Math.floor(rand() * 5) : style === 1 ? 1 + Math.floor(rand() * 400) : 0;
        if (style === 2) {
          const end = naiveEventEnd(body, at);
          size = end === -1 ? body.length - at : end - at + 1 + Math.floor(rand() * 3);
        }
        feed(body.subarray(at, Math.min(body.length, at + size)));
        at += size;
      }
      assert.ok(Buffer.concat(got).equals(body), `case ${t}: the events handed on differ from the body`);
    }
  });

  it('wholeEvents keeps a trailing partial event until its blank line arrives', () => {
    const got: string[] = [];
    const feed = wholeEvents((events) => got.push(events.toString('latin1')));
    feed(Buffer.from('id: 1\ndata: a\n\nid: 2\nda'));
    assert.deepEqual(got, ['id: 1\ndata: a\n\n']);
    feed(Buffer.from('ta: b\n'));
    assert.deepEqual(got, ['id: 1\ndata: a\n\n']);
    feed(Buffer.from('\nid: 3'));
    assert.deepEqual(got, ['id: 1\ndata: a\n\n', 'id: 2\ndata: b\n\n']);
  });
});

describe('bench baselines frame lines as the service does', () => {
  it("sseLineEvent gives the bytes of the service's event for a line with only `out`", () => {
    const time = '2026-12-06T18:00:00.123Z';
    for (const out of ['ts=1 n=0 xxxx\n', 'no newline', 'quote " backslash \\ tab \t', 'ünïcödé ✓\n', '']) {
      const seq = 1234;
      const service = encodeLine(seq, 0, normaliseLine({ out }, seq, 64 * 1024, time)).event.toString('utf8');
      assert.equal(sseLineEvent(seq, out, JSON.stringify(time)), service);
    }
  });
});
