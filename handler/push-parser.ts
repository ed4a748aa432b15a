// Push bodies parsed as they arrive (docs/PROTOCOL.md §4.3): a JSON array of
// lines (or one line object), NDJSON, or plain text. Each parser takes the
// body's text chunk by chunk and hands every line to `emit` as soon as it is
// whole, so a push is never held as one string, one Buffer and one array of
// objects at once, and a big push is parsed in slices between which the event
// loop runs (one slice per chunk the socket delivers).
import { ServiceError } from '../foundation/errors.ts';
import type { LineInput } from '../stream/log-stream.ts';
import { checkLine } from './push-lines.ts';

export interface PushParser {
  /** The next piece of the body's text. */
  write(text: string): void;
  /** The body ended: the last line, and a check that the body was complete. */
  end(): void;
}

export type EmitLine = (line: LineInput) => void;

const SUPPORTED = 'use application/json (array of lines), application/x-ndjson or text/plain';

export type PushFormat = 'json' | 'ndjson' | 'text';

/** The format a Content-Type names (none or empty: JSON, as the Harness clients send it); 415 for any other. */
export function pushFormat(contentType: string | undefined): PushFormat {
  const type = (contentType ?? 'application/json').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json' || type === '') return 'json';
  if (type === 'application/x-ndjson' || type === 'application/jsonl' || type === 'application/x-jsonlines') return 'ndjson';
  if (type === 'text/plain') return 'text';
  throw new ServiceError('LOGSVC_UNSUPPORTED_MEDIA_TYPE', `Content-Type "${type}" is not supported: ${SUPPORTED}`);
}

/** The parser that takes a body of `format` chunk by chunk. */
export function createPushParser(format: PushFormat, emit: EmitLine): PushParser {
  if (format === 'json') return new JsonParser(emit);
  return format === 'ndjson' ? new NdjsonParser(emit) : new TextParser(emit);
}

/**
 * A whole body at once. JSON goes through one JSON.parse, about three times
 * faster per line than the element scanner, which only a body read as it
 * arrives needs.
 */
export function parseWholeBody(text: string, format: PushFormat): LineInput[] {
  const lines: LineInput[] = [];
  if (format === 'json') {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw invalidJson(err);
    }
    const items = Array.isArray(value) ? value : [value];
    for (let i = 0; i < items.length; i++) lines.push(checkLine(items[i], i));
    return lines;
  }
  const parser = createPushParser(format, (line) => lines.push(line));
  parser.write(text);
  parser.end();
  return lines;
}

function invalidJson(err: unknown, where = 'the body'): ServiceError {
  return new ServiceError('LOGSVC_INVALID_JSON', `${where} is not valid JSON: ${(err as Error).message}`);
}

/** Each text line becomes one `info` line that keeps its newline; a last line without one is a line too. */
class TextParser implements PushParser {
  private pending = '';

  constructor(private readonly emit: EmitLine) {}

  write(text: string): void {
    let start = 0;
    let nl = text.indexOf('\n');
    if (nl !== -1 && this.pending !== '') {
      this.emit({ out: this.pending + text.slice(0, nl + 1) });
      this.pending = '';
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    for (; nl !== -1; nl = text.indexOf('\n', start)) {
      this.emit({ out: text.slice(start, nl + 1) });
      start = nl + 1;
    }
    if (start < text.length) this.pending += text.slice(start);
  }

  end(): void {
    if (this.pending !== '') this.emit({ out: this.pending });
    this.pending = '';
  }
}

/** One JSON line object per row; blank rows are skipped; rows are numbered from 1 in errors. */
class NdjsonParser implements PushParser {
  private pending = '';
  private row = 0;
  private index = 0;

  constructor(private readonly emit: EmitLine) {}

  write(text: string): void {
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      const row = this.pending === '' ? text.slice(start, nl) : this.pending + text.slice(start, nl);
      this.pending = '';
      this.take(row);
      start = nl + 1;
    }
    if (start < text.length) this.pending += text.slice(start);
  }

  end(): void {
    if (this.pending !== '') this.take(this.pending);
    this.pending = '';
  }

  private take(raw: string): void {
    this.row++;
    const row = raw.trim();
    if (row === '') return;
    let value: unknown;
    try {
      value = JSON.parse(row);
    } catch (err) {
      throw invalidJson(err, `NDJSON row ${this.row}`);
    }
    this.emit(checkLine(value, this.index++));
  }
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * A JSON array of line objects, element by element: a scanner finds where each
 * element ends (tracking strings and nesting; string contents are skipped
 * with indexOf), and JSON.parse reads the element. Anything that is not an
 * array (one line object) is read whole, as before, bounded by the push limit.
 */
class JsonParser implements PushParser {
  private mode: 'start' | 'whole' | 'before' | 'element' | 'after-element' | 'done' = 'start';
  /** Text of the element (or whole value) read so far, before the current chunk. */
  private pending = '';
  private depth = 0;
  private inString = false;
  /** Within a string: the previous chunk ended in the middle of an escape. */
  private escaped = false;
  private index = 0;
  /** The array had a ',' after its last element: another must follow. */
  private needElement = false;

  constructor(private readonly emit: EmitLine) {}

  write(text: string): void {
    let i = 0;
    const n = text.length;
    while (i < n) {
      switch (this.mode) {
        case 'start': {
          const c = text.charCodeAt(i);
          if (WS.has(c) || c === 0xfeff) {
            i++;
            break;
          }
          if (c === 0x5b /* [ */) {
            this.mode = 'before';
            i++;
            break;
          }
          this.mode = 'whole';
          break;
        }
        case 'whole':
          this.pending += i === 0 ? text : text.slice(i);
          return;
        case 'before': {
          const c = text.charCodeAt(i);
          if (WS.has(c)) {
            i++;
            break;
          }
          if (c === 0x5d /* ] */) {
            if (this.needElement) throw invalidJson(new Error('a "," is followed by "]"'));
            this.mode = 'done';
            i++;
            break;
          }
          this.mode = 'element';
          this.needElement = false;
          this.depth = 0;
          this.inString = false;
          this.escaped = false;
          break;
        }
        case 'element':
          i = this.scanElement(text, i);
          break;
        case 'after-element':
          // scanElement leaves us on the ',' or ']' that ended the element.
          if (text.charCodeAt(i) === 0x2c /* , */) {
            this.mode = 'before';
            this.needElement = true;
          } else {
            this.mode = 'done';
          }
          i++;
          break;
        case 'done': {
          const c = text.charCodeAt(i);
          if (!WS.has(c)) throw invalidJson(new Error(`unexpected "${text[i]}" after the end of the array`));
          i++;
          break;
        }
      }
    }
  }

  end(): void {
    if (this.mode === 'whole' || this.mode === 'start') {
      let value: unknown;
      try {
        value = JSON.parse(this.pending);
      } catch (err) {
        throw invalidJson(err);
      }
      this.pending = '';
      const items = Array.isArray(value) ? value : [value];
      items.forEach((item, index) => this.emit(checkLine(item, index)));
      return;
    }
    if (this.mode !== 'done') throw invalidJson(new Error('the array ends early (no closing "]")'));
  }

  /** Scans from `i` to the end of the current element; returns where scanning stopped. */
  private scanElement(text: string, from: number): number {
    let i = from;
    const n = text.length;
    while (i < n) {
      if (this.inString) {
        if (this.escaped) {
          this.escaped = false;
          i++;
          continue;
        }
        // Jump to the next quote or backslash.
        const q = text.indexOf('"', i);
        const b = text.indexOf('\\', i);
        if (b !== -1 && (q === -1 || b < q)) {
          i = b + 1;
          this.escaped = true;
          continue;
        }
        if (q === -1) {
          i = n;
          break;
        }
        this.inString = false;
        i = q + 1;
        continue;
      }
      const c = text.charCodeAt(i);
      if (c === QUOTE) {
        this.inString = true;
      } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
        this.depth++;
      } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
        if (this.depth === 0) {
          // The array's own "]": the element ended just before it.
          this.finishElement(text, from, i);
          return i;
        }
        this.depth--;
      } else if (c === 0x2c /* , */ && this.depth === 0) {
        this.finishElement(text, from, i);
        return i;
      } else if (c === BACKSLASH) {
        throw invalidJson(new Error('a "\\" outside a string'));
      }
      i++;
    }
    this.pending += from === 0 && i === n ? text : text.slice(from, i);
    return i;
  }

  private finishElement(text: string, from: number, end: number): void {
    const raw = this.pending === '' ? text.slice(from, end) : this.pending + text.slice(from, end);
    this.pending = '';
    this.mode = 'after-element';
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      throw invalidJson(err);
    }
    this.emit(checkLine(value, this.index++));
  }
}
