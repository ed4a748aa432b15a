// A tail as the log's raw text by byte offset (what taskcluster livelog and
// tailsrv offer; docs/PROTOCOL.md, "Raw text by byte offset"). The text is
// the concatenation of the lines' `out`. The response starts at the requested
// offset, or at the oldest byte still held when that is later, and says where
// in X-Log-Offset; a reader resumes after a cut by asking for X-Log-Offset +
// bytes received. A gap while following ends the response there instead of
// skipping it silently: the next request shows the jump.
import { decodeLine } from '../../stream/line-codec.ts';
import type { StoredLine } from '../../stream/log-stream.ts';
import type { TailWriter } from './follow.ts';
import type { TailSink } from './sink.ts';

/** What a response must offer to start a raw tail (ServerResponse does). */
export interface RawHead {
  writeHead(status: number, headers: Record<string, string>): unknown;
  flushHeaders(): void;
}

export class RawWriter implements TailWriter {
  /** The next byte offset to send; before the start, the requested one (negative: from the end). */
  private position: number;
  private started = false;
  /** With a negative offset, the lines up to the current end (the end is known only then). */
  private held: StoredLine[] = [];

  constructor(
    private readonly sink: TailSink,
    private readonly head: RawHead,
    requested: number,
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
    this.head.writeHead(200, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Cache-Control': 'no-cache',
      'X-Accel-Buffering': 'no',
      'X-Log-Offset': String(offset),
    });
    this.head.flushHeaders();
  }

  get isStarted(): boolean {
    return this.started;
  }

  /** Text bytes (a snapshot's). */
  bytes(data: Buffer): Promise<void> {
    return this.sink.write(data);
  }

  async lines(lines: StoredLine[]): Promise<void> {
    if (!this.started) {
      if (this.position < 0) {
        this.held.push(...lines);
        return;
      }
      // Bytes before the oldest retained line are gone: start there, and say so.
      this.start(Math.max(this.position, lines[0]!.offset));
    }
    await this.send(lines);
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

  async dropped(): Promise<'continue' | 'stop'> {
    // Before the start the jump shows in X-Log-Offset; after it, the response ends at the gap.
    return this.started ? 'stop' : 'continue';
  }

  async caughtUp(): Promise<void> {
    if (this.started) return;
    if (this.position >= 0) {
      this.start(this.position);
      return;
    }
    // The last |N| bytes of what is there now.
    const held = this.held;
    this.held = [];
    const last = held[held.length - 1];
    const end = last ? last.offset + last.textBytes : 0;
    const first = held[0];
    this.start(Math.max(0, end + this.position, first ? first.offset : 0));
    await this.send(held);
  }

  async terminal(): Promise<void> {
    await this.caughtUp();
    this.sink.end();
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
    this.sink.end();
  }

  fail(): void {
    this.sink.destroy();
  }

  private async send(lines: StoredLine[]): Promise<void> {
    const pieces: Buffer[] = [];
    for (const line of lines) {
      const end = line.offset + line.textBytes;
      if (end <= this.position) continue;
      const bytes = Buffer.from(decodeLine(line).out, 'utf8');
      pieces.push(line.offset >= this.position ? bytes : bytes.subarray(this.position - line.offset));
      this.position = end;
    }
    if (pieces.length > 0) await this.sink.write(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces));
  }
}
