// One client's tail of a watched file (docs/TAILSRV.md §5): from its start to
// the end, then every append as it lands, at the client's own pace. It writes
// the next chunk only once the socket took the previous one ('drain'), so a
// client that stops reading holds one chunk (a view of the file's shared read
// cache) plus its socket buffers, and delays nobody: the file, the writer and
// the other clients never wait for it.
import type { Socket } from 'node:net';
import type { TailStart } from './header-grammar.ts';
import { endConnection, errorLine } from './connection-end.ts';
import type { FileSubscriber, WatchedFile } from './watched-file.ts';

/** How a client past the new end of a truncated file is told: an error line (multi-file form) or a close (single-file form). */
export type TruncationReport = 'error-line' | 'close';

const NEWLINE = 0x0a;

export class FileTail implements FileSubscriber {
  /** The next byte to send; undefined until the file is open and the start is resolved. */
  private position: number | undefined;
  /** Newlines still to pass before the requested line starts (`from line N`). */
  private linesToSkip = 0;
  private seenTruncations = 0;
  private lastByteSent = NEWLINE;
  private stopped = false;
  private pending = false;
  private wake: (() => void) | undefined;
  private endDrainWait: (() => void) | undefined;

  constructor(
    private readonly file: WatchedFile,
    private readonly socket: Socket,
    private readonly start: TailStart,
    private readonly truncation: TruncationReport,
  ) {}

  changed(): void {
    this.pending = true;
    this.wake?.();
  }

  /** Stops sending (the client left or the server stops); the caller ends the connection. */
  stop(): void {
    this.stopped = true;
    this.wake?.();
    this.endDrainWait?.();
  }

  /** Until the client leaves, the file is gone (after its last byte), a truncation ends it, or stop(). */
  async run(): Promise<void> {
    const onClose = () => this.stop();
    this.socket.once('close', onClose);
    if (this.socket.destroyed) this.stop();
    this.file.subscribe(this);
    try {
      await this.pump();
    } finally {
      this.file.unsubscribe(this);
      this.socket.off('close', onClose);
    }
  }

  private async pump(): Promise<void> {
    const file = this.file;
    while (!this.stopped) {
      if (file.state === 'closed') return;
      if (file.state === 'waiting') {
        await this.nextChange();
        continue;
      }
      if (this.position === undefined) await this.begin();
      if (file.truncations !== this.seenTruncations) {
        this.seenTruncations = file.truncations;
        if (this.position! > file.size) {
          this.reportTruncation();
          return;
        }
      }
      // A gone file ends at the size it had when it went, even if a writer still holds it open.
      if (file.state === 'gone' && this.position! >= file.size) {
        endConnection(this.socket);
        return;
      }
      // Changes that land during the read wake the next wait: none is lost.
      this.pending = false;
      const data = await file.read(this.position!);
      if (this.stopped) return;
      if (data.length > 0) {
        if (this.linesToSkip > 0) {
          this.skipLines(data);
          continue;
        }
        this.position! += data.length;
        this.lastByteSent = data[data.length - 1]!;
        if (!this.socket.write(data)) await this.drained();
        continue;
      }
      if (file.state === 'gone') {
        // Every byte the file had is out (the read hit its end): the client is closed.
        endConnection(this.socket);
        return;
      }
      await this.nextChange();
    }
  }

  /** Resolves the start against the file as it is now (the first time it is open). */
  private async begin(): Promise<void> {
    this.seenTruncations = this.file.truncations;
    const size = await this.file.currentSize();
    const start = this.start;
    if (start.kind === 'start') this.position = 0;
    else if (start.kind === 'byte') this.position = start.offset;
    else if (start.kind === 'last') this.position = Math.max(0, size - start.bytes);
    else if (start.kind === 'end') this.position = size;
    else {
      this.position = 0;
      this.linesToSkip = start.line - 1;
    }
  }

  /** Passes the newlines before the requested line; its first byte is sent next (from the shared read). */
  private skipLines(data: Buffer): void {
    let at = 0;
    while (this.linesToSkip > 0) {
      const newline = data.indexOf(NEWLINE, at);
      if (newline === -1) {
        at = data.length;
        break;
      }
      this.linesToSkip--;
      at = newline + 1;
    }
    this.position! += at;
  }

  private reportTruncation(): void {
    if (this.truncation === 'error-line') endConnection(this.socket, errorLine('file truncated', this.lastByteSent !== NEWLINE));
    else endConnection(this.socket);
  }

  private nextChange(): Promise<void> {
    if (this.pending || this.stopped) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        this.pending = false;
        resolve();
      };
    });
  }

  private drained(): Promise<void> {
    const socket = this.socket;
    return new Promise<void>((resolve) => {
      const done = () => {
        socket.off('drain', done);
        socket.off('close', done);
        this.endDrainWait = undefined;
        resolve();
      };
      this.endDrainWait = done;
      socket.on('drain', done);
      socket.on('close', done);
    });
  }
}
