// A push body scanned instead of parsed (handler/sent-scan.ts): whatever it
// takes, JSON.parse and checkLine take too, and the ring counts the same for
// it (stream/raw-block.ts keptAsScanned against keptAsSent); what it leaves,
// they decide, so a scanned push is accepted or refused exactly as a parsed one.
import assert from 'node:assert/strict';
import { parseWholeBody } from '../../handler/push-parser.ts';
import { scanSentBody } from '../../handler/sent-scan.ts';
import type { LineInput, ScannedPush, StoredLine } from '../../stream/log-stream.ts';
import { keptAsScanned, keptAsSent, type RawBlock } from '../../stream/raw-block.ts';

const NOW = '2024-01-01T00:00:00.000Z';
const MAX_LINE_BYTES = 1024;

function ascii(text: string): Buffer {
  const body = Buffer.from(text, 'latin1');
  assert.ok(
    body.every((b) => b < 0x80),
    'test bodies are ASCII, as the handler only scans those',
  );
  return body;
}

/** The parsed path's lines, or the error it answers. */
function parsed(body: Buffer): LineInput[] | Error {
  try {
    return parseWholeBody(body.toString('latin1'), 'json');
  } catch (err) {
    return err as Error;
  }
}

/** What the ring counts for each prefix of the block's lines. */
function counts(block: RawBlock): number[] {
  return Array.from({ length: block.count + 1 }, (_, i) => block.bytes(0, i));
}

/** The scan took `body`: the parsed path takes it too, with the same lines counted the same. */
function assertSameAsParsed(body: Buffer, scanned: ScannedPush, firstSeq = 9_998): void {
  const lines = parsed(body);
  assert.ok(Array.isArray(lines), `the scan took a body the parser refuses: ${body.toString('latin1')} (${String(lines)})`);
  assert.equal(scanned.lines, lines.length);
  const fromLines = keptAsSent(firstSeq, 500, lines, body, MAX_LINE_BYTES, NOW);
  assert.ok(fromLines !== undefined, 'kept as sent by the parsed path too');
  const fromScan = keptAsScanned(firstSeq, 500, { ...scanned, facts: scanned.facts.slice() }, NOW);
  assert.equal(fromScan.textBytes, fromLines.textBytes, 'text bytes');
  assert.deepEqual(counts(fromScan), counts(fromLines), `counts of ${body.toString('latin1')}`);
  // The lines made when first read are the parsed path's.
  for (let i = 0; i < lines.length; i++) {
    const a: StoredLine = fromScan.line(i);
    const b: StoredLine = fromLines.line(i);
    assert.deepEqual([a.seq, a.offset, a.textBytes], [b.seq, b.offset, b.textBytes]);
    assert.ok(a.event.equals(b.event), `event of line ${i}`);
  }
}

function scan(text: string, maxLines = 10_000): ScannedPush | undefined {
  const body = ascii(text);
  return scanSentBody(body, MAX_LINE_BYTES, maxLines);
}

function assertScannedSame(text: string): void {
  const scanned = scan(text);
  assert.ok(scanned !== undefined, `scanned: ${text}`);
  assertSameAsParsed(ascii(text), scanned);
}

/** A Harness runner's line as Go's encoding/json writes it (lite-engine's livelog Line). */
function harnessLine(pos: number, out: string): string {
  return JSON.stringify({ level: 'info', pos, out, time: '2024-03-01T10:20:30.123456789Z', args: null });
}

describe('scanned push bodies (handler/sent-scan.ts)', () => {
  it('takes what runners send and counts it as the parsed path does: Harness, Drone-style, Python-spaced, bench lines', () => {
    assertScannedSame(`[${Array.from({ length: 50 }, (_, i) => harnessLine(i, `step ${i} \u001b[32mok\u001b[0m\n`)).join(',')}]`);
    assertScannedSame('[{"pos":0,"out":"+ make\\n","time":"2024-03-01T10:20:30Z"},{"pos":1,"out":"cc -O2\\n","time":"2024-03-01T10:20:31Z"}]');
    assertScannedSame('[{"out": "spaced\\n", "level": "warn"}, {"out": "two\\n"}]');
    // Go's json.Encoder (Harness's client): HTML characters as \u escapes, and a newline after the array.
    assertScannedSame('[{"level":"info","pos":0,"out":"a \\u003cb\\u003e \\u0026 c\\n","time":"2024-03-01T10:20:30Z","args":null}]\n');
    assertScannedSame('[{"out":"crlf after"}]\r\n \t');
    assertScannedSame(`[${Array.from({ length: 100 }, (_, i) => `{"out":"line ${i} ${'x'.repeat(70)}\\n"}`).join(',')}]`);
  });

  it('takes the fields in any order, each escape JSON has, and every time form checkLine takes', () => {
    const lines = [
      '{"level":"error","out":"x"}',
      '{"out":"","pos":0}',
      '{"pos":999999999999999,"out":"fifteen digits"}',
      '{"out":"q \\" b \\\\ s \\/ \\b\\f\\n\\r\\t end"}',
      '{"out":"\\u001b[1m \\u00e9 \\u4e00 \\u007f \\u0000"}',
      '{"out":"del \u007f char"}',
      '{"time":"2024-02-29t23:59:60z","out":"leap"}',
      '{"time":"2024-12-31T00:00:00.5+05:30","out":"zone"}',
      '{"time":"1999-01-01T01:02:03-00:00","out":"minus","args":null}',
      '{"args":null,"out":"args first"}',
      '{"out":"' + 'y'.repeat(MAX_LINE_BYTES) + '"}',
    ];
    for (const line of lines) assertScannedSame(`[${line}]`);
    assertScannedSame(`[${lines.join(',')}]`);
    assertScannedSame(`[ ${lines.join(' , ')} ]  `);
  });

  it('leaves to the parser what it does not take, which the parser accepts: the same push, parsed', () => {
    const left = [
      '[{"out":"x","extra":1}]', // another key
      '[{"out":"x","args":{"k":"v"}}]', // args given
      '[{"out":"x","pos":1.0}]', // an integer written otherwise
      '[{"out":"x","pos":1e3}]',
      '[{"out":"x","pos":1234567890123456}]', // 16 digits
      '[{"out":"\\ud83d\\ude00"}]', // a surrogate pair
      '[\n  {"out":"pretty"}\n]', // whitespace other than spaces
      '[{"out":"x","level":"\\u0041"}]', // an escape in level
      '{"out":"one object"}',
      '[]',
      '[{"out":"x","out":"twice"}]',
      '[{"outer":"x","out":"y"}]',
      '[{"out":"' + 'y'.repeat(MAX_LINE_BYTES + 1) + '"}]', // over the line limit: cut, not kept as sent
    ];
    for (const text of left) {
      assert.equal(scan(text), undefined, text);
      assert.ok(Array.isArray(parsed(ascii(text))), `the parser takes ${text}`);
    }
  });

  it('takes nothing the parser refuses: bad JSON, bad fields, impossible times, raw control characters', () => {
    const refused = [
      '[{"out":"x"}',
      '[{"out":"x"},]',
      '[{"out":"x"}]]',
      '[{"out":"x"} x]',
      '[{"out":"x" "level":"y"}]',
      '[{"out":x}]',
      '[{"out":"x}]',
      '[{out:"x"}]',
      '[{"out":1}]',
      '[{"level":"x"}]',
      '[{}]',
      '[{"out":"x","level":"' + 'l'.repeat(33) + '"}]',
      '[{"out":"x","pos":-1}]',
      '[{"out":"x","pos":01}]',
      '[{"out":"x","time":"2023-02-29T00:00:00Z"}]',
      '[{"out":"x","time":"2024-02-30T00:00:00Z"}]',
      '[{"out":"x","time":"2024-01-01T24:00:00Z"}]',
      '[{"out":"x","time":"2024-01-01 00:00:00Z"}]',
      '[{"out":"x","time":"2024-01-01T00:00:00"}]',
      '[{"out":"x","time":"2024-01-01T00:00:00.Z"}]',
      '[{"out":"x","time":"2024-13-01T00:00:00Z"}]',
      '[{"out":"x","time":"2024"}]',
      '[{"out":"tab\tinside"}]',
      '[{"out":"bad \\x escape"}]',
      '[{"out":"short \\u12 escape"}]',
      '[{"out":"x","args":nul}]',
      '[{"out":"x"}] trailing',
      '[{"out":"x"}]\n x',
    ];
    for (const text of refused) {
      assert.equal(scan(text), undefined, text);
      assert.ok(parsed(ascii(text)) instanceof Error, `the parser refuses ${text}`);
    }
  });

  it('takes at most maxLines lines, and the largest body the handler scans (256 KiB) in one scratch', () => {
    const many = (n: number) => `[${Array.from({ length: n }, () => '{"out":""}').join(',')}]`;
    assert.equal(scan(many(10), 9), undefined);
    assert.equal(scan(many(10), 10)?.lines, 10);
    const big = many(23_000);
    assert.ok(big.length <= 256 * 1024);
    const scanned = scan(big, 23_000);
    assert.ok(scanned !== undefined);
    assert.equal(scanned.lines, 23_000);
    assert.equal(scanned.facts.length, 23_001, 'its own copy of the facts, sized to the push');
    assertSameAsParsed(ascii(big), scanned, 0);
  });

  it('never takes a body the parser refuses or counts differently, over 20,000 random edits of good bodies', () => {
    // A fixed seed: the run is the same every time, and a failure names the body.
    let seed = 0x5eed;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const alphabet = '{}[]",:\\ 0123456789.eE+-tTzZnulfaseoutlvpimrg/bu';
    const bases = [
      `[${harnessLine(7, 'hello "world"\\n')},${harnessLine(8, 'tab\\there')}]`,
      '[{"out":"\\u001b[0m","pos":10,"time":"2024-02-29T23:59:59.9+01:00","level":"debug"}]',
      '[{"out":"a"} , {"out":"b\\\\","args":null}]',
    ];
    let taken = 0;
    for (let i = 0; i < 20_000; i++) {
      const chars = [...bases[random(bases.length)]!];
      for (let edits = 1 + random(3); edits > 0; edits--) {
        const at = random(chars.length);
        const kind = random(3);
        if (kind === 0) chars.splice(at, 1);
        else if (kind === 1) chars.splice(at, 0, alphabet[random(alphabet.length)]!);
        else chars[at] = alphabet[random(alphabet.length)]!;
      }
      const body = ascii(chars.join(''));
      const scanned = scanSentBody(body, MAX_LINE_BYTES, 10_000);
      if (scanned === undefined) continue;
      taken++;
      assertSameAsParsed(body, scanned);
    }
    // The edits leave many bodies good (an edit inside a line's text): the check above ran on them.
    assert.ok(taken > 1000, `only ${taken} edited bodies were scanned`);
  });
});
