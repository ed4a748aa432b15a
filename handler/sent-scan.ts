// A JSON push body checked and measured without being parsed (docs/ARCHITECTURE.md,
// "A push is scanned, not parsed"). A backend that keeps a push as sent
// (LogStream.pushScanned) reads nothing of its lines at push but their count
// and what each will cost the ring; the objects and strings JSON.parse made of
// them were garbage as soon as checkLine had looked at them, and making and
// collecting them was the largest part of a push's cost (BENCHMARKS.md,
// "ingest: a push scanned, not parsed").
//
// The scan takes the shape runners send: an array of objects with `out`,
// `level`, `pos`, `time` and `args: null`, in any order, spaces between tokens,
// any JSON whitespace after the array. It answers only for a body that
// JSON.parse and checkLine (push-lines.ts) would take, giving the same lines;
// anything else — another key, a key twice, `args` with a value, a `pos` not
// written as plain digits, an escape in `level` or `time`, a surrogate escape,
// a control character before the array's end (a newline between tokens too),
// a body that is not an array of objects — is left to them (undefined), so
// what a push accepts or refuses, and why, is decided in one place.
import type { ScannedPush } from '../stream/log-stream.ts';
import { packLineFacts } from '../stream/raw-block.ts';
import { bodyStructure } from './body-structure.ts';
import { isRealTime } from './push-lines.ts';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const ZERO = 0x30;
const NINE = 0x39;
const SPACE = 0x20;

/** checkLine's bounds: a `level` of at most 32 characters, a `time` of at most 64. */
const MAX_LEVEL_CHARS = 32;
const MAX_TIME_CHARS = 64;
/** A `pos` of at most this many digits is a safe integer whatever they are (2^53 has 16). */
const MAX_POS_DIGITS = 15;

/** The keys a line may have here, each once (bits of `seen`). */
const OUT = 1;
const LEVEL = 2;
const POS = 4;
const TIME = 8;
const ARGS = 16;

/** Each key's name after its first letter, with its closing quote (`"out"`, not `"outer"`). */
const OUT_REST = bytesOf('ut"');
const LEVEL_REST = bytesOf('evel"');
const POS_REST = bytesOf('os"');
const TIME_REST = bytesOf('ime"');
const ARGS_REST = bytesOf('rgs"');
const NULL = bytesOf('null');

/** The packed facts of the lines being scanned, reused from push to push; grown as needed (a body of 256 KiB has at most ~24,000 lines). */
let scratch = new Uint32Array(1024);

/** The last day checked (year * 10000 + month * 100 + day) and whether it was real: the lines of a push share their day. */
let lastDay = -1;
let lastDayReal = false;

/**
 * The push whose body is `body` (ASCII) as a ScannedPush, or undefined when
 * it is not a JSON array of 1..maxLines line objects of the shape above with
 * no `out` over `maxLineBytes` bytes. Read as bytes, never as a string: one
 * pass (body-structure.ts) refuses a control character and finds every quote
 * and backslash, and the scan reads only the bytes around them.
 */
export function scanSentBody(body: Buffer, maxLineBytes: number, maxLines: number): ScannedPush | undefined {
  if (body[0] !== OPEN_ARRAY) return undefined;
  // JSON's whitespace may follow the array: Go's json.Encoder, which Harness's client uses, ends the body with a newline.
  const end = endOfContent(body);
  // Any control character before it: JSON.parse refuses one inside a string, and the
  // bodies runners send (Go, JavaScript, Python) have none between tokens either,
  // so a body with one (pretty-printed JSON) is left to JSON.parse.
  const structure = bodyStructure(body, end);
  if (structure === undefined) return undefined;
  const scan = new ByteScan(structure.bytes, structure.places, structure.first, structure.first + structure.count);
  const bytes = structure.bytes;
  let lines = 0;
  let textBytes = 0;
  for (;;) {
    scan.skipSpace();
    const facts = scan.line(maxLineBytes);
    if (facts < 0 || lines >= maxLines) return undefined;
    lines++;
    if (lines >= scratch.length) scratch = growScratch(scratch);
    scratch[lines] = facts;
    textBytes += Math.floor(facts / 64);
    scan.skipSpace();
    const next = bytes[scan.at++];
    if (next === CLOSE_ARRAY) break;
    if (next !== COMMA) return undefined;
  }
  // Only whitespace after the array: `end` is just past its `]`.
  if (scan.at !== end) return undefined;
  return { body, lines, textBytes, facts: scratch.slice(0, lines + 1) };
}

/** Where the body ends once the JSON whitespace after it (space, tab, newline, carriage return) is left out. */
function endOfContent(body: Buffer): number {
  let end = body.length;
  for (let c = body[end - 1]; c === SPACE || c === 0x0a || c === 0x0d || c === 0x09; c = body[--end - 1]);
  return end;
}

function growScratch(old: Uint32Array) {
  const grown = new Uint32Array(old.length * 2);
  grown.set(old);
  return grown;
}

function bytesOf(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text, 'latin1'));
}

/**
 * A cursor over the body's bytes: each method reads what it names at `at` and
 * moves past it, or answers -1 (leave the body to JSON.parse). Past the body's
 * end the bytes are body-structure.ts PAST_END, which nothing here takes.
 */
class ByteScan {
  at = 1;
  /** Characters of the last string read, as written in the body (its escapes whole). */
  private written = 0;

  constructor(
    private readonly bytes: Uint8Array,
    /** Where each quote and backslash is, in order, from `next` (the first not yet passed) to `placesEnd`. */
    private readonly places: Int32Array,
    private next: number,
    private readonly placesEnd: number,
  ) {}

  /** Spaces (the only whitespace a scanned body has before its end: no control character). */
  skipSpace(): void {
    while (this.bytes[this.at] === SPACE) this.at++;
  }

  /** One line object: its packed facts (packLineFacts). */
  line(maxLineBytes: number): number {
    const bytes = this.bytes;
    if (bytes[this.at] !== OPEN_OBJECT) return -1;
    this.at++;
    let seen = 0;
    let outBytes = 0;
    let posDigits = 0;
    this.skipSpace();
    for (;;) {
      const key = this.key();
      if (key < 0 || (seen & key) !== 0) return -1;
      seen |= key;
      this.skipSpace();
      if (bytes[this.at] !== COLON) return -1;
      this.at++;
      this.skipSpace();
      if (key === OUT) {
        outBytes = this.string(maxLineBytes);
        if (outBytes < 0) return -1;
      } else if (key === LEVEL) {
        if (this.plainString(MAX_LEVEL_CHARS) < 0) return -1;
      } else if (key === POS) {
        posDigits = this.digits();
        if (posDigits < 0) return -1;
      } else if (key === TIME) {
        if (!this.time()) return -1;
      } else if (!this.nullValue()) return -1; // `args`: only null (checkLine leaves it out)
      this.skipSpace();
      const next = bytes[this.at++];
      if (next === CLOSE_OBJECT) break;
      if (next !== COMMA) return -1;
      this.skipSpace();
    }
    if ((seen & OUT) === 0) return -1;
    return packLineFacts(outBytes, posDigits, (seen & TIME) !== 0, (seen & LEVEL) !== 0);
  }

  private nullValue(): boolean {
    if (!this.follows(this.at, NULL)) return false;
    this.at += NULL.length;
    return true;
  }

  /** Whether `expected` is written at `at`. */
  private follows(at: number, expected: Uint8Array): boolean {
    for (let i = 0; i < expected.length; i++) if (this.bytes[at + i] !== expected[i]) return false;
    return true;
  }

  /** A key: which one (OUT, LEVEL, POS, TIME, ARGS), -1 for any other. */
  private key(): number {
    const bytes = this.bytes;
    const at = this.at;
    if (bytes[at] !== QUOTE) return -1;
    // Told apart by their first letter; the rest of each name is matched with its closing quote.
    let key: number;
    let rest: Uint8Array;
    switch (bytes[at + 1]) {
      case 0x6f:
        key = OUT;
        rest = OUT_REST;
        break;
      case 0x6c:
        key = LEVEL;
        rest = LEVEL_REST;
        break;
      case 0x70:
        key = POS;
        rest = POS_REST;
        break;
      case 0x74:
        key = TIME;
        rest = TIME_REST;
        break;
      case 0x61:
        key = ARGS;
        rest = ARGS_REST;
        break;
      default:
        return -1;
    }
    if (!this.follows(at + 2, rest)) return -1;
    this.at = at + 2 + rest.length;
    return key;
  }

  /**
   * A string of at most `maxBytes` bytes once decoded: its UTF-8 bytes (an
   * escape is the character it stands for; `\uXXXX` its 1-3 bytes), or -1 (a
   * bad or surrogate escape, no end).
   */
  string(maxBytes: number): number {
    const bytes = this.bytes;
    const places = this.places;
    if (bytes[this.at] !== QUOTE) return -1;
    const start = this.at + 1;
    // Past the places before the string's first character: its opening quote and the quotes of the
    // keys read since the last string. A backslash among them would have been outside any string,
    // where every byte is read one by one and none is a backslash.
    let next = this.next;
    while (next < this.placesEnd && places[next]! < start) next++;
    // Characters of escapes beyond the characters they stand for.
    let shrink = 0;
    let end = -1;
    while (next < this.placesEnd) {
      const at = places[next++]!;
      if (bytes[at] === QUOTE) {
        end = at;
        break;
      }
      // A backslash, and the escape it starts.
      const escaped = bytes[at + 1]!;
      if (escaped === 0x75 /* u */) {
        const code = hex4(bytes, at + 2);
        if (code < 0 || (code >= 0xd800 && code <= 0xdfff)) return -1;
        shrink += 6 - (code < 0x80 ? 1 : code < 0x800 ? 2 : 3);
      } else if (ONE_CHARACTER_ESCAPES[escaped] === 1) {
        shrink += 1;
        // `\"` and `\\`: the escaped character is the next place, neither the string's end nor an escape.
        if (escaped === QUOTE || escaped === BACKSLASH) next++;
      } else return -1;
    }
    if (end < 0) return -1;
    this.next = next;
    this.written = end - start;
    const decoded = this.written - shrink;
    if (decoded > maxBytes) return -1;
    this.at = end + 1;
    return decoded;
  }

  /** A string without escapes of at most `maxChars` characters: its length, or -1. */
  private plainString(maxChars: number): number {
    const length = this.string(maxChars);
    // Without escapes, a string's bytes are its characters as written.
    return length >= 0 && this.written === length ? length : -1;
  }

  /** A non-negative integer written as plain digits (no sign, fraction or exponent): how many, or -1. */
  private digits(): number {
    const bytes = this.bytes;
    const start = this.at;
    let c = bytes[this.at]!;
    if (!(c >= ZERO && c <= NINE)) return -1;
    if (c === ZERO) this.at++;
    else for (; c >= ZERO && c <= NINE; c = bytes[++this.at]!);
    const count = this.at - start;
    c = bytes[this.at]!;
    // `01` is not JSON; `1.0`, `1e3`, `2E0` are integers to checkLine but written otherwise: JSON.parse decides.
    if (count > MAX_POS_DIGITS || (c >= ZERO && c <= NINE) || c === 0x2e || c === 0x65 || c === 0x45) return -1;
    return count;
  }

  /** An RFC 3339 timestamp (push-lines.ts isRfc3339: the same pattern and calendar check), as a string without escapes. */
  private time(): boolean {
    const bytes = this.bytes;
    const start = this.at + 1;
    if (this.plainString(MAX_TIME_CHARS) < 0) return false;
    const end = this.at - 1;
    // Every fixed place up to the seconds is checked, so a shorter string fails on its closing quote.
    const year = number(bytes, start, 4);
    const month = number(bytes, start + 5, 2);
    const day = number(bytes, start + 8, 2);
    const hour = number(bytes, start + 11, 2);
    const minute = number(bytes, start + 14, 2);
    const second = number(bytes, start + 17, 2);
    if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return false;
    if (bytes[start + 4] !== 0x2d || bytes[start + 7] !== 0x2d || bytes[start + 13] !== COLON || bytes[start + 16] !== COLON) return false;
    const t = bytes[start + 10];
    if (t !== 0x54 && t !== 0x74) return false;
    let i = start + 19;
    if (bytes[i] === 0x2e) {
      const fraction = ++i;
      for (let c = bytes[i]!; i < end && c >= ZERO && c <= NINE; c = bytes[++i]!);
      if (i === fraction) return false;
    }
    const zone = bytes[i];
    if (zone === 0x5a || zone === 0x7a) i++;
    else if (zone === 0x2b || zone === 0x2d) {
      if (number(bytes, i + 1, 2) < 0 || bytes[i + 3] !== COLON || number(bytes, i + 4, 2) < 0) return false;
      i += 6;
    } else return false;
    if (i !== end) return false;
    const dayKey = year * 10000 + month * 100 + day;
    if (dayKey !== lastDay) {
      lastDay = dayKey;
      lastDayReal = isRealTime(year, month, day, 0, 0, 0);
    }
    return lastDayReal && hour <= 23 && minute <= 59 && second <= 60;
  }
}

/** 1 at the code of each character after a backslash that makes a one-character escape: `\"` `\\` `\/` `\b` `\f` `\n` `\r` `\t`. */
const ONE_CHARACTER_ESCAPES = new Uint8Array(128);
for (const c of '"\\/bfnrt') ONE_CHARACTER_ESCAPES[c.charCodeAt(0)] = 1;

/** The decimal number of `count` digits at `at`, or -1 if one is not a digit. */
function number(bytes: Uint8Array, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const c = bytes[i]!;
    if (!(c >= ZERO && c <= NINE)) return -1;
    value = value * 10 + (c - ZERO);
  }
  return value;
}

/** Four hex digits at `at` as a number, or -1. */
function hex4(bytes: Uint8Array, at: number): number {
  let value = 0;
  for (let i = at; i < at + 4; i++) {
    const c = bytes[i]!;
    let digit: number;
    if (c >= ZERO && c <= NINE) digit = c - ZERO;
    else if (c >= 0x61 && c <= 0x66) digit = c - 0x61 + 10;
    else if (c >= 0x41 && c <= 0x46) digit = c - 0x41 + 10;
    else return -1;
    value = value * 16 + digit;
  }
  return value;
}
