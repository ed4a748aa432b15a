// A tail as the log's raw text by byte offset (what taskcluster livelog and
// tailsrv offer; docs/PROTOCOL.md, "Raw text by byte offset"). The text is
// the concatenation of the lines' `out`. The response starts at the requested
// offset, or at the oldest byte still held when that is later, and says where
// in X-Log-Offset; a reader resumes after a cut by asking for X-Log-Offset +
// bytes received. A gap while following ends the response there instead of
// skipping it silently: the next request shows the jump.
import { textPieces } from '../../stream/line-codec.ts';
import type { DroppedRange, StoredLine } from '../../stream/log-stream.ts';
import type { TailWriter } from './follow.ts';
import type { TailSink } from './sink.ts';

/** What a response must offer to start a raw tail (ServerResponse does). */
export interface RawHead {
  writeHead(status: number, headers: Record<string, string>): unknown;
  flushHeaders(): void;
}

/** How a raw response starts and ends beyond the plain tail (a byte range, livelog's headers). */
export interface RawResponseOptions {
  /** The status (206 for a range; 200 otherwise). */
  status?: number;
  /** More headers for the start, given the offset the body starts at (Content-Range, CORS). */
  headers?: (offset: number) => Record<string, string>;
  /** One past the last byte to send: the response ends there (a closed byte range). */
  stopAt?: number;
  /**
   * For readers that cannot resume (livelog's): asked at the stream's end, true when the log
   * is cut short (its producer aborted), so the body ends without its terminator; any other
   * end (shutdown, lifetime) is a cut too.
   */
  truncated?: () => boolean;
  /**
   * The stream's held partial last line (docs/PROTOCOL.md §7.2): raw readers get every byte
   * as it arrives, also the bytes of a line whose newline has not come yet.
   */
  heldText?: () => Promise<{ textEnd: number; pending: Buffer; generation: number } | null | undefined>;
}

const SENT = Promise.resolve();

export class RawWriter implements TailWriter {
  /** The next byte offset to send; before the start, the requested one (negative: from the end). */
  protected position: number;
  private started = false;
  /** With a negative offset, the lines up to the current end (the end is known only then). */
  private held: StoredLine[] = [];

  constructor(
    private readonly sink: TailSink,
    private readonly head: RawHead,
    requested: number,
    private readonly options: RawResponseOptions = {},
  ) {
    this.position = requested;
  }

  get closed(): boolean {
    return this.sink.closed;
  }

  /** Sends the status and X-Log-Offset now: a tail of a quiet stream may have no byte to write for a long time. */
  start(offset: number): void {
    if (this.started) return;
    this.started = true;
    this.position = offset;
    this.head.writeHead(this.options.status ?? 200, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Cache-Control': 'no-cache',
      'X-Accel-Buffering': 'no',
      'X-Log-Offset': String(offset),
      ...this.options.headers?.(offset),
    });
    this.head.flushHeaders();
  }

  get isStarted(): boolean {
    return this.started;
  }

  /** Text bytes (a snapshot's), from the current position. */
  async bytes(data: Buffer): Promise<void> {
    await this.write(data);
  }

  // Not async once started: a live tail's every wake-up comes here, and a socket that takes the bytes at once costs no promise.
  lines(lines: readonly StoredLine[]): Promise<void> {
    if (this.started) return this.send(lines);
    if (this.position < 0) {
      this.held.push(...lines);
      return SENT;
    }
    // Lines that end before the requested offset are skipped before the start, so a gap
    // among them (below the offset) does not end the response before its first byte.
    const first = lines.find((line) => line.offset + line.textBytes > this.position);
    if (first === undefined) return SENT;
    // Bytes before the oldest line still held are gone: start there, and say so.
    this.start(Math.max(this.position, first.offset));
    return this.send(lines);
  }

  async restart(): Promise<'continue' | 'stop'> {
    // The stream was opened again: its bytes are another log with offsets from 0.
    // Before the start nothing was sent, so the new log is served; after it, the
    // response ends here, and the reader's next request shows X-Log-Offset.
    if (!this.started) {
      this.held = [];
      return 'continue';
    }
    return 'stop';
  }

  async dropped(_range: DroppedRange): Promise<'continue' | 'stop'> {
    // Before the start the jump shows in X-Log-Offset; after it, the response ends at the gap.
    return this.started ? 'stop' : 'continue';
  }

  /** `generation` undefined: the stream ended, and its partial line became its last line at the close (no held bytes). */
  caughtUp(generation?: number): Promise<void> {
    if (this.started || this.position >= 0) {
      this.start(this.position);
      return this.sendHeld(generation);
    }
    return this.sendLast(generation);
  }

  /** The last |N| bytes of what is there now (a negative offset). */
  private async sendLast(generation: number | undefined): Promise<void> {
    const held = this.held;
    this.held = [];
    const last = held[held.length - 1];
    const end = last ? last.offset + last.textBytes : 0;
    const first = held[0];
    this.start(Math.max(0, end + this.position, first ? first.offset : 0));
    await this.send(held);
    await this.sendHeld(generation);
  }

  /**
   * The held partial line's bytes past what was sent; the line, once whole, is sent from there on (send skips what was).
   * Only the cursor's stream's (`generation`): one opened again under the name meanwhile has other bytes at these offsets.
   */
  private async sendHeld(generation: number | undefined): Promise<void> {
    if (this.options.heldText === undefined || generation === undefined || this.sink.closed) return;
    const held = await this.options.heldText();
    if (held == null || held.generation !== generation || this.sink.closed) return;
    const { textEnd, pending } = held;
    if (this.position >= textEnd && this.position < textEnd + pending.length) await this.write(pending.subarray(this.position - textEnd));
  }

  async terminal(): Promise<void> {
    await this.caughtUp();
    if (this.options.truncated?.() === true) this.cut();
    else this.sink.end();
  }

  /** Ends the body without its terminator, after the bytes sent so far. */
  private cut(): void {
    if (this.sink.cut !== undefined) this.sink.cut();
    else this.sink.destroy();
  }

  async lifetime(): Promise<void> {
    // At the lifetime: the reader resumes by offset.
    this.end();
  }

  async ping(): Promise<void> {
    // Plain text has no comments: a quiet raw tail stays silent.
  }

  end(): void {
    if (!this.started) this.start(Math.max(0, this.position));
    // A reader that cannot resume (livelog's) must not take a cut for the log's end.
    if (this.options.truncated !== undefined) this.cut();
    else this.sink.end();
  }

  fail(): void {
    this.sink.destroy();
  }

  private send(lines: readonly StoredLine[]): Promise<void> {
    // The text bytes encoded at push (shared by every reader): no JSON decode here.
    let from = 0;
    while (from < lines.length && lines[from]!.offset + lines[from]!.textBytes <= this.position) from++;
    if (from === lines.length) return SENT;
    const first = lines[from]!;
    const last = lines[lines.length - 1]!;
    // One view per run of the batch (a push's, a chunk's): no copy, and one system call for all.
    let pieces = textPieces(from === 0 ? lines : lines.slice(from));
    let bytes = 0;
    for (const piece of pieces) bytes += piece.length;
    // Within the first line (its text is at the start of the first piece).
    const skip = Math.max(0, this.position - first.offset);
    if (skip > 0) pieces = [pieces[0]!.subarray(skip), ...pieces.slice(1)];
    const end = last.offset + last.textBytes;
    if (this.options.stopAt === undefined) {
      this.position = end;
      return this.sink.writePieces(pieces);
    }
    // A byte range: write() moves the position on and ends the response at stopAt.
    this.position = end - (bytes - skip);
    return this.write(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces));
  }

  /** Writes text from `position` on, up to stopAt, where the response ends. */
  private write(text: Buffer): Promise<void> {
    const stopAt = this.options.stopAt;
    if (stopAt !== undefined && this.position + text.length >= stopAt) return this.writeLast(text.subarray(0, Math.max(0, stopAt - this.position)));
    this.position += text.length;
    return this.sink.write(text);
  }

  /** The range's last bytes, then the response's end. */
  private async writeLast(piece: Buffer): Promise<void> {
    this.position += piece.length;
    await this.sink.write(piece);
    this.sink.end();
  }
}
