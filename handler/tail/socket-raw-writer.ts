// A raw tail on a TCP socket: the tailsrv protocol over a log stream
// (docs/TAILSRV.md §6). The same bytes as GET …/raw (RawWriter), with the
// start taken from the tailsrv header instead of ?offset=, and no HTTP head:
// where the HTTP tail would show a jump in X-Log-Offset on the next request,
// this one says it in an `error:` line and closes, because a tailsrv client
// has no other way to learn it.
import type { DroppedRange, StoredLine, WaitSignal } from '../../stream/log-stream.ts';
import { errorLine } from '../../tailsrv/connection-end.ts';
import type { TailStart } from '../../tailsrv/header-grammar.ts';
import { RawWriter, type RawHead } from './raw-writer.ts';
import type { TailSink } from './sink.ts';

/** A socket has no status line or headers to send. */
const NO_HEAD: RawHead = { writeHead: () => undefined, flushHeaders: () => undefined };
const NEWLINE = 0x0a;

/** Remembers the last byte written, so an error line after data starts on a line of its own. */
class LastByteSink implements TailSink {
  lastByte = NEWLINE;

  constructor(private readonly inner: TailSink) {}

  get signal(): WaitSignal {
    return this.inner.signal;
  }

  get closed(): boolean {
    return this.inner.closed;
  }

  write(data: Buffer | string): Promise<void> {
    if (data.length > 0) this.lastByte = typeof data === 'string' ? data.charCodeAt(data.length - 1) : data[data.length - 1]!;
    return this.inner.write(data);
  }

  writePieces(pieces: readonly Buffer[]): Promise<void> {
    for (const piece of pieces) if (piece.length > 0) this.lastByte = piece[piece.length - 1]!;
    return this.inner.writePieces(pieces);
  }

  end(): void {
    this.inner.end();
  }

  destroy(): void {
    this.inner.destroy();
  }
}

/** The byte offset RawWriter starts from for a tailsrv start (negative: the last N bytes). */
function rawOffset(start: TailStart): number {
  switch (start.kind) {
    case 'byte':
      return start.offset;
    case 'last':
      return -start.bytes;
    default:
      // start: the oldest byte held; end: the cursor starts at the end; line: the first line sent says where.
      return 0;
  }
}

export class SocketRawWriter extends RawWriter {
  private readonly out: LastByteSink;
  /** `from line N`: lines before seq N-1 are passed over. */
  private readonly fromSeq: number;
  /** `from byte N`: bytes before N that are no longer held are an error, not a silent skip. */
  private readonly exactOffset: number | undefined;

  /** `offset`: where the cursor's opener resolved a byte start to (LogStream.cursorAtOffset), when it did. */
  constructor(sink: TailSink, start: TailStart, offset?: number) {
    const out = new LastByteSink(sink);
    super(out, NO_HEAD, offset ?? rawOffset(start));
    this.out = out;
    this.fromSeq = start.kind === 'line' ? start.line - 1 : 0;
    this.exactOffset = start.kind === 'byte' && start.offset > 0 ? start.offset : undefined;
  }

  override async lines(lines: readonly StoredLine[]): Promise<void> {
    const wanted = this.fromSeq > 0 ? lines.filter((line) => line.seq >= this.fromSeq) : lines;
    if (wanted.length === 0) return;
    if (!this.isStarted && this.exactOffset !== undefined && wanted[0]!.offset > this.exactOffset) {
      await this.refuse(`byte ${this.exactOffset} is no longer held: the oldest byte is ${wanted[0]!.offset} (ask "from byte ${wanted[0]!.offset}")`);
      return;
    }
    await super.lines(wanted);
  }

  override async dropped(range: DroppedRange): Promise<'continue' | 'stop'> {
    if (range.to < this.fromSeq) return 'continue';
    if (!this.isStarted) return 'continue';
    await this.refuse(`lines ${range.from}-${range.to} were dropped before this connection read them: resume "from byte ${this.position}"`);
    return 'stop';
  }

  override async restart(): Promise<'continue' | 'stop'> {
    if (!this.isStarted) return super.restart();
    await this.refuse('the stream was opened again: its log starts over at byte 0');
    return 'stop';
  }

  /** One error line, then the end. */
  async refuse(reason: string): Promise<void> {
    await this.out.write(errorLine(reason, this.out.lastByte !== NEWLINE));
    this.out.end();
  }
}
