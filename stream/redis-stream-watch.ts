// What one instance knows about one Redis stream that has local viewers: the
// newest lines (a small LineRing, filled by the fan-out reader), how far the
// reader got, whether the stream ended, and one shared wake promise, so a new
// line costs the same with 1 or 1000 local viewers (as in memory-log-stream.ts).
import { storedLineFromJson } from './line-codec.ts';
import { LineRing } from './line-ring.ts';
import type { StoredLine, WaitSignal } from './log-stream.ts';
import { lineId, parseId } from './redis-keys.ts';

export type StreamEntry = [id: string, fields: string[]];

/** Rebuilds a line from its entry (fields j, o, t, b as written by the push script); undefined for markers. */
export function lineOfEntry(gen: number, entry: StreamEntry): { seq: number; line: StoredLine } | undefined {
  const seq = seqOfEntry(gen, entry);
  return seq === undefined ? undefined : { seq, line: lineAt(seq, entry) };
}

/** The seq of a line entry of generation `gen`; undefined for markers and other generations. */
function seqOfEntry(gen: number, [id, f]: StreamEntry): number | undefined {
  if (f[0] !== 'j') return undefined;
  const { ms, seq } = parseId(id);
  return ms === gen ? seq - 1 : undefined;
}

function lineAt(seq: number, [, f]: StreamEntry): StoredLine {
  return storedLineFromJson(seq, Number(f[3]), Number(f[5]), f[1] ?? '');
}

export class StreamWatch {
  /** Lines the reader has delivered: the buffer ends at `nextSeq`. */
  buffer: LineRing;
  /** Closed, expired or replaced by a reopen: nothing more will come. */
  ended: boolean;
  /** The generation that replaced this one (the name was opened again); its viewers follow it. */
  replacedBy: number | undefined;
  subscribers = 0;
  /** Waiting cursors; each removes itself when its wait ends, so idle streams hold no stale waiters. */
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly name: string,
    readonly key: string,
    readonly metaKey: string,
    readonly gen: number,
    nextSeq: number,
    ended: boolean,
    private readonly bufferLines: number,
    private readonly bufferBytes: number,
  ) {
    this.buffer = this.emptyBufferAt(nextSeq);
    this.ended = ended;
  }

  get nextSeq(): number {
    return this.buffer.nextSeq;
  }

  /** The entry id the reader continues after (XREAD semantics: strictly greater). */
  get lastId(): string {
    // lineId(gen, nextSeq - 1) is `<gen>-<nextSeq>`; for nextSeq 0 that is the open marker.
    return lineId(this.gen, this.nextSeq - 1);
  }

  /** Resolves at the next change, or when `signal` aborts; leaves nothing behind either way. */
  waitForChange(signal: WaitSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        this.waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  notify(): void {
    if (this.waiters.size === 0) return;
    const waiting = [...this.waiters];
    this.waiters.clear();
    for (const done of waiting) done();
  }

  /** Nothing more will come (close marker seen, stream expired, reopened — `replacedBy` — or shutdown). */
  end(replacedBy?: number): void {
    if (replacedBy !== undefined && replacedBy > this.gen + 1) this.replacedBy ??= replacedBy;
    if (this.ended) return;
    this.ended = true;
    this.notify();
  }

  /** Takes entries read after `lastId`, in id order. */
  accept(entries: StreamEntry[]): void {
    let changed = false;
    // Consecutive lines go into the buffer together, as one entry (LineRing.appendLines).
    let run: StoredLine[] = [];
    for (const entry of entries) {
      if (this.ended) break;
      const { ms } = parseId(entry[0]);
      if (ms > this.gen) {
        // The close marker (<gen+1>-0), or a newer generation (> gen + 1) after a reopen.
        if (ms > this.gen + 1) this.replacedBy = ms;
        this.ended = true;
        changed = true;
        break;
      }
      const seq = seqOfEntry(this.gen, entry);
      const next = this.nextSeq + run.length;
      if (seq === undefined || seq < next) continue; // marker, or already here (e.g. pushed by this instance)
      // A gap: lines were trimmed in Redis before this reader saw them. Viewers
      // that need them read Redis and get a dropped range.
      if (seq > next) {
        this.buffer.appendLines(run);
        run = [];
        this.buffer = this.emptyBufferAt(seq);
      }
      run.push(lineAt(seq, entry));
      changed = true;
    }
    this.buffer.appendLines(run);
    if (changed) this.notify();
  }

  /**
   * Lines this instance just pushed, so its own viewers see them at once (as
   * with the memory backend); taken only when they follow on directly, else
   * the reader brings them in order.
   */
  appendPushed(lines: StoredLine[]): void {
    if (this.ended || lines[0]?.seq !== this.nextSeq) return;
    this.buffer.appendLines(lines);
    this.notify();
  }

  private emptyBufferAt(seq: number): LineRing {
    const ring = new LineRing(this.bufferLines, this.bufferBytes);
    ring.firstSeq = seq;
    ring.nextSeq = seq;
    return ring;
  }
}
