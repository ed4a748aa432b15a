// Reading a push (docs/PROTOCOL.md §4.3, §4.4): the body is parsed as it
// arrives (push-parser.ts) into a window that keeps only what the stream can
// retain, so a push costs memory by the stream's retention, not by its size.
// The lines are appended only once the whole body was read and every line was
// valid: a bad line still rejects the push as a whole, nothing half-appended.
// When one push holds more lines than the stream retains, the newest are kept
// and the rest are skipped — appended as a gap, which viewers see as
// `dropped` — rather than the batch being refused.
import { isAscii } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { ServiceError } from '../foundation/errors.ts';
import { truncateOut } from '../stream/line-codec.ts';
import { MAX_SCANNED_LINES, type LineInput, type ScannedPush, type SkippedLines } from '../stream/log-stream.ts';
import { createPushParser, parseWholeBody, pushFormat, type PushFormat } from './push-parser.ts';
import { scanSentBody } from './sent-scan.ts';

/**
 * What each line costs against the push limit on top of its bytes: a push of
 * millions of empty lines costs what parsing and storing them costs, not the
 * one byte of each newline.
 */
const LINE_OVERHEAD_BYTES = 8;
/** Chunks at least this big are followed by a turn of the event loop. */
const YIELD_AFTER_BYTES = 16 * 1024;
/** A line's estimated size in the stream (its event: id, JSON fields and framing). */
const EVENT_OVERHEAD_BYTES = 64;

export interface PushLimits {
  /** Body bytes plus LINE_OVERHEAD_BYTES per line. */
  maxPushBytes: number;
  timeoutMs: number;
  /** The stream's retention: lines and encoded bytes kept. */
  keepLines: number;
  keepBytes: number;
  /** The line limit, as lines are cut when stored (for the text offsets of skipped lines). */
  maxLineBytes: number;
  /** The stream may keep a push as sent (PushOptions.asSent): say which body can be. */
  asSent?: boolean;
  /** The stream takes scanned pushes (LogStream.pushScanned): scan such a body instead of parsing it (sent-scan.ts). */
  scan?: boolean;
}

export interface ParsedPush {
  /** The newest lines, at most what the stream retains. */
  lines: LineInput[];
  /** Older lines of the push the stream could not have retained anyway. */
  skipped: SkippedLines;
  /** Lines in the body. */
  total: number;
  /**
   * The body, when it is a JSON array of exactly `lines` in ASCII: the
   * stream may keep the push as sent (PushOptions.asSent). Its own buffer,
   * or a view of one that holds at most SHARED_SLACK_BYTES more (ownBuffer).
   */
  asSent?: Buffer;
  /**
   * The body scanned instead of parsed (PushLimits.scan): then `lines` is
   * empty, and the push is this, for LogStream.pushScanned.
   */
  scanned?: ScannedPush;
}

/** The newest lines of a push, within the stream's retention. */
class PushWindow {
  private items: LineInput[] = [];
  private sizes: number[] = [];
  private head = 0;
  private bytes = 0;
  readonly skipped: SkippedLines = { lines: 0, textBytes: 0 };
  total = 0;

  constructor(private readonly limits: PushLimits) {}

  add(line: LineInput): void {
    const size = line.out.length + EVENT_OVERHEAD_BYTES;
    this.items.push(line);
    this.sizes.push(size);
    this.bytes += size;
    this.total++;
    const { keepLines, keepBytes } = this.limits;
    while (this.items.length - this.head > keepLines || (this.bytes > keepBytes && this.items.length - this.head > 1)) this.dropOldest();
  }

  lines(): LineInput[] {
    return this.head === 0 ? this.items : this.items.slice(this.head);
  }

  private dropOldest(): void {
    const line = this.items[this.head]!;
    this.items[this.head] = undefined as unknown as LineInput;
    this.bytes -= this.sizes[this.head]!;
    this.head++;
    this.skipped.lines++;
    this.skipped.textBytes += Buffer.byteLength(truncateOut(line.out, this.limits.maxLineBytes), 'utf8');
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }
}

/**
 * Reads and parses a push body within `limits` (413 past maxPushBytes, 408
 * past timeoutMs). On refusal the request is left paused: the error answer
 * reads and discards the rest (linger.ts).
 */
export function readPush(req: IncomingMessage, contentType: string | undefined, limits: PushLimits): Promise<ParsedPush> {
  const declared = Number(req.headers['content-length']);
  if (declared > limits.maxPushBytes) return Promise.reject(tooLarge(limits.maxPushBytes));
  const format = pushFormat(contentType);
  return declared <= SMALL_PUSH_BYTES ? readSmallPush(req, format, limits) : readStreamedPush(req, format, limits);
}

/**
 * Bodies up to this size (with a Content-Length) are read whole, then parsed at once: the common push, fastest.
 * Also the most a push kept as sent holds (grpc/push-call.ts keeps a batch to it too): it goes into an archive chunk whole.
 */
export const SMALL_PUSH_BYTES = 256 * 1024;

/** A big (or unsized) body, parsed as it arrives into the window. */
function readStreamedPush(req: IncomingMessage, format: PushFormat, limits: PushLimits): Promise<ParsedPush> {
  const window = new PushWindow(limits);
  const parser = createPushParser(format, (line) => window.add(line));
  const decoder = new StringDecoder('utf8');
  let received = 0;
  const checkSize = () => {
    if (received + LINE_OVERHEAD_BYTES * window.total > limits.maxPushBytes) throw tooLarge(limits.maxPushBytes);
  };
  return consumeBody(req, limits.timeoutMs, {
    // One chunk per turn of the event loop: libuv hands over up to 32 reads at
    // once, and a body of millions of tiny lines would otherwise hold the loop
    // for seconds (/healthz, every tail) while it is parsed.
    yieldBetweenChunks: true,
    chunk(chunk) {
      received += chunk.length;
      parser.write(decoder.write(chunk));
      checkSize();
    },
    end() {
      parser.write(decoder.end());
      parser.end();
      checkSize();
      return { lines: window.lines(), skipped: window.skipped, total: window.total };
    },
  });
}

/** A small body with a Content-Length, read whole, parsed at once, then windowed. */
function readSmallPush(req: IncomingMessage, format: PushFormat, limits: PushLimits): Promise<ParsedPush> {
  const parts: Buffer[] = [];
  let received = 0;
  return consumeBody(req, limits.timeoutMs, {
    yieldBetweenChunks: false,
    chunk(chunk) {
      received += chunk.length;
      if (received > limits.maxPushBytes) throw tooLarge(limits.maxPushBytes);
      parts.push(chunk);
    },
    end() {
      const body = parts.length === 1 ? parts[0]! : Buffer.concat(parts, received);
      const ascii = isAscii(body);
      // The body a stream may keep as sent: the same buffer whether the push is scanned or parsed.
      const asSent = limits.asSent === true && format === 'json' && body[0] === 0x5b /* [ */ && ascii ? ownBuffer(body) : undefined;
      if (asSent !== undefined && limits.scan === true) {
        const scanned = scanSentBody(asSent, limits.maxLineBytes, Math.min(limits.keepLines, MAX_SCANNED_LINES));
        if (scanned !== undefined) {
          // The parser would give the same lines, so the same refusal: without parsing the body again for it.
          if (received + LINE_OVERHEAD_BYTES * scanned.lines > limits.maxPushBytes) throw tooLarge(limits.maxPushBytes);
          return { lines: [], skipped: { lines: 0, textBytes: 0 }, total: scanned.lines, scanned };
        }
      }
      // Not scanned: parsed. ASCII (what runners send) is the same text read as latin1, which V8 copies as it is instead of decoding.
      const lines = parseWholeBody(body.toString(ascii ? 'latin1' : 'utf8'), format);
      if (received + LINE_OVERHEAD_BYTES * lines.length > limits.maxPushBytes) throw tooLarge(limits.maxPushBytes);
      if (lines.length <= limits.keepLines) return { lines, skipped: { lines: 0, textBytes: 0 }, total: lines.length, asSent };
      const window = new PushWindow(limits);
      for (const line of lines) window.add(line);
      return { lines: window.lines(), skipped: window.skipped, total: window.total };
    },
  });
}

/**
 * `body` as a buffer that holds little else, to be kept: a socket's chunk is a
 * view of what one read brought in, its request's head and maybe the next
 * request too, which a view would keep alive. A view is kept when that is at
 * most SHARED_SLACK_BYTES more (the head of a one-chunk request), else a copy.
 */
function ownBuffer(body: Buffer): Buffer {
  if (body.buffer.byteLength - body.length <= SHARED_SLACK_BYTES) return body;
  const copy = Buffer.allocUnsafeSlow(body.length);
  body.copy(copy);
  return copy;
}

const SHARED_SLACK_BYTES = 1024;

interface BodyReader<T> {
  /** Pause for a turn of the event loop after each big chunk. */
  yieldBetweenChunks: boolean;
  /** Takes a chunk; throws to refuse the body. */
  chunk(chunk: Buffer): void;
  /** The body ended: the result, or a throw. */
  end(): T;
}

/** Feeds `req`'s body to `reader` within `timeoutMs`; on refusal leaves `req` paused (for the lingering answer). */
function consumeBody<T>(req: IncomingMessage, timeoutMs: number, reader: BodyReader<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const finish = (outcome: { error: Error } | { value: T }) => {
      settled = true;
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if ('error' in outcome) {
        req.pause();
        reject(outcome.error);
      } else {
        resolve(outcome.value);
      }
    };
    const onData = (chunk: Buffer) => {
      try {
        reader.chunk(chunk);
      } catch (error) {
        finish({ error: error as Error });
        return;
      }
      if (reader.yieldBetweenChunks && chunk.length >= YIELD_AFTER_BYTES) {
        req.pause();
        setImmediate(() => {
          if (!settled) req.resume();
        });
      }
    };
    const onEnd = () => {
      let value: T;
      try {
        value = reader.end();
      } catch (error) {
        finish({ error: error as Error });
        return;
      }
      finish({ value });
    };
    const onError = (error: Error) => finish({ error });
    const onClose = () => finish({ error: new ServiceError('LOGSVC_BAD_REQUEST', 'the request body was cut off') });
    const timer = setTimeout(
      () => finish({ error: new ServiceError('LOGSVC_REQUEST_TIMEOUT', `the body did not arrive within ${timeoutMs / 1000} s`) }),
      timeoutMs,
    );
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** A whole body as bytes, at most `maxBytes` (413 past it), within `timeoutMs` (PATCH …/raw). */
export function readBodyBytes(req: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  return consumeBody(req, timeoutMs, {
    yieldBetweenChunks: false,
    chunk(chunk) {
      total += chunk.length;
      if (total > maxBytes) throw new ServiceError('LOGSVC_BODY_TOO_LARGE', `the body is over ${maxBytes} bytes: send the text in smaller appends`);
      chunks.push(chunk);
    },
    end: () => Buffer.concat(chunks, total),
  });
}

/** A whole body parsed at once (no retention window): every line, in order. */
export function parsePushBody(body: Buffer, contentType: string | undefined): LineInput[] {
  return parseWholeBody(body.toString('utf8'), pushFormat(contentType));
}

function tooLarge(maxBytes: number): ServiceError {
  return new ServiceError(
    'LOGSVC_BODY_TOO_LARGE',
    `the push body is over ${maxBytes} bytes (each line counts ${LINE_OVERHEAD_BYTES} bytes more): send the lines in smaller batches`,
  );
}
