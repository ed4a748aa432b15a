// Producer input to stored lines and their SSE event bytes (stream/line-codec.ts).
import assert from 'node:assert/strict';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import {
  decodeLine,
  encodeLine,
  joinEvents,
  joinText,
  jsonString,
  eventPieces,
  textPieces,
  lineJson,
  normaliseLine,
  storedLineFromJson,
  truncateOut,
} from '../../stream/line-codec.ts';
import { EncodedLine } from '../../stream/line-block.ts';
import type { LineInput, LogLine, StoredLine } from '../../stream/log-stream.ts';
import { encodeLines } from '../support/encode-lines.ts';

const MARKER = '… [log-service: line truncated]';
const NOW = '2024-05-06T07:08:09.010Z';

/** The events an SSE client (eventsource-parser, as EventSource reads the stream) sees in these bytes. */
function sseEvents(bytes: Buffer): EventSourceMessage[] {
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (e) => events.push(e) });
  parser.feed(bytes.toString('utf8'));
  return events;
}

/** The line as a backend rebuilds it: its event in a buffer of its own (not pooled next to anything), and no run. */
function detached(line: StoredLine): StoredLine {
  const event = Buffer.alloc(line.eventBytes);
  line.event.copy(event);
  return new EncodedLine(line.seq, line.offset, line.textBytes, event, 0, event.length, line.jsonStart, undefined);
}

const utf8 = (s: string): number => Buffer.byteLength(s, 'utf8');

describe('line codec', () => {
  describe('truncateOut', () => {
    it('keeps an out within the limit as it is, up to exactly the limit', () => {
      assert.equal(truncateOut('short\n', 256), 'short\n');
      const exact = `${'é'.repeat(127)}\n`; // 255 bytes: past the 3-bytes-per-char fast path, within the limit
      assert.equal(truncateOut(exact, 255), exact);
      const ascii = 'x'.repeat(256);
      assert.equal(truncateOut(ascii, 256), ascii);
    });

    it('cuts an out over the limit to exactly the limit, marker and newline included, keeping the newline', () => {
      const cut = truncateOut(`${'x'.repeat(300)}\n`, 256);
      assert.equal(cut, `${'x'.repeat(256 - utf8(MARKER) - 1)}${MARKER}\n`);
      assert.equal(utf8(cut), 256);
      assert.equal(truncateOut(`${'x'.repeat(257)}`, 256), `${'x'.repeat(256 - utf8(MARKER))}${MARKER}`);
    });

    it('cuts 3-byte characters over the limit even when the out has fewer characters than the limit has bytes', () => {
      // 100 characters but 300 bytes: (256 - 33) / 3 = 74 whole characters fit.
      assert.equal(truncateOut('中'.repeat(100), 256), `${'中'.repeat(74)}${MARKER}`);
    });

    it('ends with the marker alone when the out had no newline', () => {
      const cut = truncateOut('y'.repeat(1000), 300);
      assert.equal(cut, `${'y'.repeat(300 - utf8(MARKER))}${MARKER}`);
      assert.equal(utf8(cut), 300);
    });

    it('keeps only the LF of a CRLF ending: the CR is cut with the text', () => {
      assert.equal(truncateOut(`${'x'.repeat(300)}\r\n`, 256), `${'x'.repeat(256 - utf8(MARKER) - 1)}${MARKER}\n`);
    });

    it('backs up to a character boundary: 2-byte characters', () => {
      // 64 - 33 (marker) - 1 (newline) = 30 bytes of text: 15 whole "é". At 65 the 31st byte
      // would split a character, so it is 15 "é" again and one byte under the limit.
      assert.equal(utf8(MARKER), 33);
      assert.equal(truncateOut(`${'é'.repeat(100)}\n`, 64), `${'é'.repeat(15)}${MARKER}\n`);
      assert.equal(truncateOut(`${'é'.repeat(100)}\n`, 65), `${'é'.repeat(15)}${MARKER}\n`);
      assert.equal(truncateOut(`${'é'.repeat(100)}\n`, 66), `${'é'.repeat(16)}${MARKER}\n`);
    });

    it('never splits a 2-, 3- or 4-byte character, and keeps as many whole characters as fit', () => {
      for (const char of ['é', '中', '😀']) {
        const size = utf8(char);
        const out = `${char.repeat(200)}\n`;
        for (let maxBytes = 256; maxBytes < 256 + 8; maxBytes++) {
          const cut = truncateOut(out, maxBytes);
          const fits = Math.floor((maxBytes - utf8(MARKER) - 1) / size);
          assert.equal(cut, `${char.repeat(fits)}${MARKER}\n`, `${char} at ${maxBytes}`);
          assert.ok(utf8(cut) <= maxBytes);
          assert.ok(!cut.includes('\uFFFD'), 'no broken character');
        }
      }
    });

    it('cuts after a multi-byte character that ends exactly at the cut', () => {
      // 222 bytes of text fit: 218 ASCII bytes then one 4-byte character ends exactly there.
      const out = `${'a'.repeat(218)}😀${'b'.repeat(100)}\n`;
      assert.equal(truncateOut(out, 256), `${'a'.repeat(218)}😀${MARKER}\n`);
      // One byte less of room and the whole emoji goes.
      assert.equal(truncateOut(out, 255), `${'a'.repeat(218)}${MARKER}\n`);
    });
  });

  describe('jsonString', () => {
    it('is JSON.stringify byte for byte, on the fast path and off it', () => {
      const texts = [
        '',
        '\n',
        '\n\n',
        'plain\n',
        'plain, no newline',
        'a "quote"\n',
        'back\\slash\n',
        'tab\there\n',
        '\u001b[31mred\u001b[0m\n',
        'cr\r\n',
        'nul \u0000\n',
        'del \u007f and é 中\n',
        'line sep \u2028 para sep \u2029\n',
        'emoji 😀\n',
        'lone high \ud83d\n',
        'lone low \ude00',
        'x'.repeat(70_000) + '\n',
      ];
      for (const text of texts) assert.equal(jsonString(text), JSON.stringify(text), JSON.stringify(text).slice(0, 60));
      // Every character below U+0100, alone and before a newline.
      for (let c = 0; c < 0x100; c++) {
        const text = `a${String.fromCharCode(c)}b`;
        assert.equal(jsonString(text), JSON.stringify(text), `U+${c.toString(16)}`);
        assert.equal(jsonString(`${text}\n`), JSON.stringify(`${text}\n`), `U+${c.toString(16)} + newline`);
      }
    });
  });

  describe('normaliseLine', () => {
    it('fills level "info", pos = seq and time = now when the producer left them out, and adds no args', () => {
      assert.deepEqual(normaliseLine({ out: 'a\n' }, 41, 1024, NOW), { level: 'info', pos: 41, out: 'a\n', time: NOW });
      assert.equal('args' in normaliseLine({ out: 'a\n' }, 41, 1024, NOW), false);
    });

    it('keeps what the producer sent, and truncates the out', () => {
      const input: LineInput = { out: `${'z'.repeat(400)}\n`, level: 'error', pos: 0, time: '2020-01-01T00:00:00Z', args: { step: 'build' } };
      assert.deepEqual(normaliseLine(input, 41, 256, NOW), {
        level: 'error',
        pos: 0,
        out: `${'z'.repeat(222)}${MARKER}\n`,
        time: '2020-01-01T00:00:00Z',
        args: { step: 'build' },
      });
    });
  });

  describe('encodeLine', () => {
    it('encodes one SSE event: the id, one data line with the JSON, and a blank line', () => {
      const line = encodeLine(7, 120, { level: 'info', pos: 7, out: 'hello\n', time: NOW });
      assert.equal(line.event.toString('utf8'), `id: 7\ndata: {"level":"info","pos":7,"out":"hello\\n","time":"${NOW}"}\n\n`);
      assert.equal(line.seq, 7);
      assert.equal(line.offset, 120);
      assert.equal(line.textBytes, 6);
      assert.equal(line.jsonStart, 'id: 7\ndata: '.length);
    });

    it('writes the JSON byte for byte as JSON.stringify would, args included', () => {
      const lines: LogLine[] = [
        { level: 'info', pos: 0, out: '', time: NOW },
        { level: 'warn', pos: 123456789, out: 'tab\there "quoted" \\ back\n', time: NOW, args: { a: [1, null, 'x'], b: { c: true } } },
        { level: 'lvl"\n', pos: 3, out: '\u0000\u001f\u007f', time: 'not"a time' },
        { level: 'info', pos: Number.NaN, out: 'x', time: NOW }, // non-finite pos: JSON null
      ];
      for (const line of lines) {
        const stored = encodeLine(1, 0, line);
        assert.equal(lineJson(stored).toString('utf8'), JSON.stringify(line));
      }
    });

    it('escapes CR and LF anywhere in the line, so the event keeps one data line (no raw CR or LF inside the JSON)', () => {
      const line: LogLine = { level: 'in\rfo', pos: 1, out: 'a\r\nb\rc\nd\n', time: NOW, args: { k: 'x\r\ny' } };
      const stored = encodeLine(9, 0, line);
      const json = lineJson(stored).toString('utf8');
      assert.equal(json.includes('\n') || json.includes('\r'), false);
      assert.equal(stored.event.toString('utf8'), `id: 9\ndata: ${json}\n\n`);
      assert.deepEqual(sseEvents(stored.event), [{ id: '9', data: json, event: undefined }]);
      assert.deepEqual(decodeLine(stored), line);
    });

    it('passes U+2028, U+2029 and U+0085 through unescaped: they end no SSE line and are valid in JSON strings', () => {
      const line: LogLine = { level: 'info', pos: 1, out: 'a\u2028b\u2029c\u0085d\n', time: NOW };
      const stored = encodeLine(3, 0, line);
      assert.ok(stored.event.includes(Buffer.from('a\u2028b\u2029c\u0085d', 'utf8')), 'raw UTF-8, not \\u escapes');
      const [event, ...more] = sseEvents(stored.event);
      assert.equal(more.length, 0);
      assert.deepEqual(JSON.parse(event!.data), line);
    });

    it('escapes a lone surrogate, so the event is valid UTF-8 and the line decodes to the same string', () => {
      const line: LogLine = { level: 'info', pos: 1, out: 'bad \ud800 half\n', time: NOW };
      const stored = encodeLine(0, 0, line);
      assert.ok(stored.event.toString('latin1').includes('\\ud800'));
      assert.equal(stored.event.toString('utf8').includes('\uFFFD'), false);
      assert.equal(decodeLine(stored).out, 'bad \ud800 half\n');
    });

    it('counts textBytes as the UTF-8 length of out', () => {
      assert.equal(encodeLine(0, 0, { level: 'info', pos: 0, out: 'é中😀\n', time: NOW }).textBytes, 2 + 3 + 4 + 1);
    });
  });

  describe('lineJson, decodeLine and storedLineFromJson', () => {
    it('lineJson is the JSON inside the event, sharing its memory', () => {
      const stored = encodeLine(12, 0, { level: 'info', pos: 12, out: 'x\n', time: NOW });
      const json = lineJson(stored);
      assert.equal(json.toString('utf8'), `{"level":"info","pos":12,"out":"x\\n","time":"${NOW}"}`);
      assert.equal(json.buffer, stored.event.buffer);
      assert.equal(json.byteOffset, stored.event.byteOffset + stored.jsonStart);
    });

    it('decodeLine gives back the line that was encoded', () => {
      const line: LogLine = { level: 'debug', pos: 5, out: 'é中😀\r\n', time: NOW, args: { n: 1 } };
      assert.deepEqual(decodeLine(encodeLine(5, 50, line)), line);
    });

    it('storedLineFromJson rebuilds the very event encodeLine made, from kept JSON', () => {
      const line: LogLine = { level: 'info', pos: 30, out: 'é\n', time: NOW };
      const original = encodeLine(30, 1000, line);
      const rebuilt = storedLineFromJson(30, 1000, 3, lineJson(original).toString('utf8'));
      assert.deepEqual(rebuilt.event, original.event);
      assert.equal(rebuilt.jsonStart, original.jsonStart);
      assert.equal(rebuilt.textBytes, 3);
      assert.equal(rebuilt.offset, 1000);
      assert.equal(rebuilt.seq, 30);
    });
  });

  describe('encodeLines', () => {
    it('keeps every text offset right when a line ends in a lone high surrogate and the next starts with a lone low one', () => {
      const outs = ['a\ud83d', '\ude00b', 'c\n', '\ud800', '\udc00\n'];
      const lines = encodeLines(
        0,
        0,
        outs.map((out) => ({ out })),
        256,
        NOW,
      );
      let offset = 0;
      for (const [i, line] of lines.entries()) {
        const alone = Buffer.from(outs[i]!, 'utf8');
        assert.equal(line.offset, offset, `line ${i}'s offset`);
        assert.ok(joinText([line]).equals(alone), `line ${i}'s text is what UTF-8 makes of it alone`);
        assert.equal(decodeLine(line).out, outs[i], 'its JSON keeps the surrogate');
        offset += alone.length;
      }
      assert.ok(joinText(lines).equals(Buffer.concat(outs.map((out) => Buffer.from(out, 'utf8')))));
    });

    const inputs: LineInput[][] = [
      [{ out: 'one\n' }, { out: 'two\n', level: 'warn' }, { out: 'three', pos: 99, time: '2001-02-03T04:05:06Z' }],
      [{ out: 'é\n' }, { out: '中文\n', args: { lang: 'zh' } }, { out: '😀\n' }, { out: `${'ü'.repeat(300)}\n` }, { out: 'back to ascii\n' }],
    ];

    it('makes the same bytes as normaliseLine and encodeLine line by line, ASCII or not', () => {
      for (const batch of inputs) {
        const stored = encodeLines(10, 500, batch, 256, NOW);
        let offset = 500;
        assert.equal(stored.length, batch.length);
        batch.forEach((input, i) => {
          const expected = encodeLine(10 + i, offset, normaliseLine(input, 10 + i, 256, NOW));
          assert.deepEqual(stored[i]!.event, expected.event, `line ${i}`);
          assert.equal(stored[i]!.seq, 10 + i);
          assert.equal(stored[i]!.offset, offset, `line ${i}: offset`);
          assert.equal(stored[i]!.textBytes, expected.textBytes, `line ${i}: textBytes`);
          assert.equal(stored[i]!.jsonStart, expected.jsonStart);
          offset += expected.textBytes;
        });
      }
    });

    it('runs offsets on by the UTF-8 length of each out, truncated outs counted as stored', () => {
      const stored = encodeLines(0, 7, [{ out: 'ab\n' }, { out: 'é\n' }, { out: `${'x'.repeat(500)}\n` }, { out: '' }, { out: 'z' }], 256, NOW);
      assert.deepEqual(
        stored.map((l) => [l.seq, l.offset, l.textBytes]),
        [
          [0, 7, 3],
          [1, 10, 3],
          [2, 13, 256],
          [3, 269, 0],
          [4, 269, 1],
        ],
      );
    });

    it('puts every event of a push back to back in one buffer', () => {
      const stored = encodeLines(0, 0, inputs[1]!, 256, NOW);
      for (let i = 1; i < stored.length; i++) {
        assert.equal(stored[i]!.event.buffer, stored[0]!.event.buffer);
        assert.equal(stored[i]!.event.byteOffset, stored[i - 1]!.event.byteOffset + stored[i - 1]!.event.length);
      }
    });

    it('returns no lines for an empty push', () => {
      assert.deepEqual(encodeLines(5, 5, [], 256, NOW), []);
    });
  });

  describe('joinEvents', () => {
    it('is empty for no lines', () => {
      assert.equal(joinEvents([]).length, 0);
    });

    it("is the line's own event for one line", () => {
      const [line] = encodeLines(0, 0, [{ out: 'a\n' }], 256, NOW);
      const joined = joinEvents([line!]);
      // A view of the same memory (each read of `event` is a new view of it): no copy.
      assert.equal(joined.buffer, line!.eventRun.buffer);
      assert.equal(joined.byteOffset, line!.eventRun.byteOffset + line!.eventStart);
      assert.deepEqual(joined, line!.event);
    });

    it('is one view, without a copy, of consecutive lines of one push', () => {
      const lines = encodeLines(0, 0, [{ out: 'a\n' }, { out: 'b\n' }, { out: 'c\n' }], 256, NOW);
      const joined = joinEvents(lines);
      assert.deepEqual(joined, Buffer.concat(lines.map((l) => l.event)));
      assert.equal(joined.buffer, lines[0]!.event.buffer);
      assert.equal(joined.byteOffset, lines[0]!.event.byteOffset);
    });

    it('concatenates lines from separate buffers in order', () => {
      const a = encodeLines(0, 0, [{ out: 'a1\n' }, { out: 'a2\n' }], 256, NOW).map(detached);
      const b = detached(encodeLine(2, 6, normaliseLine({ out: 'b\n' }, 2, 256, NOW)));
      const c = encodeLines(3, 8, [{ out: 'c1\n' }, { out: 'c2\n' }], 256, NOW);
      const lines = [...a, b, ...c];
      assert.deepEqual(joinEvents(lines).toString('utf8'), lines.map((l) => l.event.toString('utf8')).join(''));
    });

    it('does not send a skipped line that lies between two lines of the same buffer', () => {
      const lines = encodeLines(0, 0, [{ out: 'first\n' }, { out: 'skipped\n' }, { out: 'third\n' }], 256, NOW);
      const joined = joinEvents([lines[0]!, lines[2]!]);
      assert.equal(joined.toString('utf8'), lines[0]!.event.toString('utf8') + lines[2]!.event.toString('utf8'));
      assert.equal(joined.includes('skipped'), false);
    });

    it('is one view per run, found without walking the run, for lines of several pushes', () => {
      const a = encodeLines(
        0,
        0,
        Array.from({ length: 1000 }, (_, i) => ({ out: `a${i}\n` })),
        256,
        NOW,
      );
      const b = encodeLines(
        1000,
        0,
        Array.from({ length: 1000 }, (_, i) => ({ out: `b${i}\n` })),
        256,
        NOW,
      );
      const lines = [...a.slice(10), ...b.slice(0, 990)];
      const joined = joinEvents(lines);
      assert.ok(joined.equals(Buffer.concat(lines.map((l) => l.event))));
      assert.ok(joinEvents(a.slice(5, 900)).equals(Buffer.concat(a.slice(5, 900).map((l) => l.event))));
      assert.equal(joinEvents(a.slice(5, 900)).buffer, a[0]!.event.buffer, 'a view of the push');
    });
  });

  describe('joinText', () => {
    const text = (lines: readonly StoredLine[]) => lines.map((l) => decodeLine(l).out).join('');

    it('is empty for no lines', () => {
      assert.equal(joinText([]).length, 0);
    });

    it('is one view, without a copy, of consecutive lines of one push, from any line to any line', () => {
      const lines = encodeLines(10, 500, [{ out: 'a\n' }, { out: 'bé\n' }, { out: '' }, { out: 'c\n' }], 256, NOW);
      for (const [from, to] of [
        [0, 4],
        [1, 3],
        [2, 4],
        [3, 4],
      ] as const) {
        const joined = joinText(lines.slice(from, to));
        assert.equal(joined.toString('utf8'), text(lines.slice(from, to)));
        assert.equal(joined.buffer, lines[0]!.event.buffer, 'a view of the push');
      }
    });

    it('concatenates the runs of separate pushes, and of lines that carry no text, in order', () => {
      const a = encodeLines(0, 0, [{ out: 'a1\n' }, { out: 'a2\n' }], 256, NOW);
      const b = storedLineFromJson(2, 6, 2, JSON.stringify({ level: 'info', pos: 2, out: 'b\n', time: NOW }));
      const c = encodeLines(3, 8, [{ out: 'c1\n' }, { out: 'c2\n' }, { out: 'c3\n' }], 256, NOW);
      const lines = [...a, b, ...c];
      assert.equal(joinText(lines).toString('utf8'), 'a1\na2\nb\nc1\nc2\nc3\n');
      assert.equal(joinText(lines.slice(1, 5)).toString('utf8'), 'a2\nb\nc1\nc2\n');
    });

    it('decodes the text of a line that has none once, and keeps it on the line for the next reader', () => {
      const line = storedLineFromJson(0, 0, 4, JSON.stringify({ level: 'info', pos: 0, out: 'xé\n', time: NOW }));
      assert.equal(joinText([line]).toString('utf8'), 'xé\n');
      const run = line.texts;
      assert.ok(run !== undefined);
      joinText([line]);
      assert.equal(line.texts, run);
    });

    it('does not send a skipped line that lies between two lines of the same push', () => {
      const lines = encodeLines(0, 0, [{ out: 'first\n' }, { out: 'skipped\n' }, { out: 'third\n' }, { out: 'fourth\n' }], 256, NOW);
      assert.equal(joinText([lines[0]!, lines[2]!, lines[3]!]).toString('utf8'), 'first\nthird\nfourth\n');
    });
  });

  describe('the pieces of a batch: one view per run, shared by the viewers of the batch', () => {
    it('finds the runs of an array once for every viewer that sends it, and anew for a new array, text and events alike', () => {
      const a = encodeLines(0, 0, [{ out: 'a1\n' }, { out: 'a2\n' }], 256, NOW);
      const b = encodeLines(2, 6, [{ out: 'b1\n' }], 256, NOW);
      const both = [...a, ...b];
      const text = textPieces(both);
      assert.deepEqual(
        text.map((p) => p.toString('utf8')),
        ['a1\na2\n', 'b1\n'],
        'one view per push, no copy',
      );
      assert.equal(text[0]!.buffer, a[0]!.eventRun.buffer);
      assert.equal(textPieces(both), text, 'the same array: the same pieces');
      const events = eventPieces(both);
      assert.equal(events.length, 2);
      assert.equal(eventPieces(both), events);
      assert.equal(Buffer.concat(events).toString('utf8'), joinEvents(both).toString('utf8'));
      assert.notEqual(textPieces([...both]), text, 'an equal array is looked at again');
      assert.equal(joinText(both).toString('utf8'), 'a1\na2\nb1\n');
    });

    it('joins the pieces of a batch of many runs (lines rebuilt one by one) into one, so a write is never hundreds of chunks', () => {
      const lines = Array.from({ length: 40 }, (_, i) =>
        storedLineFromJson(i, i * 2, 2, JSON.stringify({ level: 'info', pos: i, out: `${i % 10}\n`, time: NOW })),
      );
      const events = eventPieces(lines);
      assert.equal(events.length, 1);
      assert.equal(events[0]!.toString('utf8'), lines.map((l) => l.event.toString('utf8')).join(''));
      assert.equal(textPieces(lines).length, 1);
    });
  });
});
