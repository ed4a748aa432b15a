// In-memory LogStream (docs/BACKENDS.md): one LineRing per stream, seqs assigned here,
// idle streams expire. Viewers hold a cursor into the ring; a push wakes the
// viewers waiting on that stream, which then read the shared ring themselves.
import { ServiceError } from '../foundation/errors.ts';
import { atTurnEnd } from '../foundation/turn-end.ts';
import { formatDuration } from './format-duration.ts';
import { encodeBlock } from './line-codec.ts';
import { LineRing } from './line-ring.ts';
import { keptAsScanned, keptAsSent } from './raw-block.ts';
import { NO_LINES } from './shared-slices.ts';
import type {
  CursorOptions,
  CursorStart,
  LineInput,
  LogStream,
  OpenOptions,
  PushOptions,
  ReadBatch,
  ScannedPush,
  StreamMemoryUsage,
  StoredLine,
  StreamCursor,
  StreamInfo,
  StreamLimits,
  TextState,
  WaitSignal,
} from './log-stream.ts';
import { TextGuardConflict } from './text-append.ts';

const EMPTY = Buffer.alloc(0);
/** The lines given with a scanned push: none (its lines are in its body). */
const NO_INPUTS: LineInput[] = [];

/** Push ids remembered per stream (as on Redis). */
const PUSH_IDS_KEPT = 256;

/** The time of the last push, kept for the pushes of the same millisecond: `toISOString` was ~1.5 % of a push. */
let lastNow = { ms: 0, iso: '' };

function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastNow.ms) lastNow = { ms, iso: new Date(ms).toISOString() };
  return lastNow.iso;
}

let lastGeneration = 0;
/** A millisecond clock value, bumped past the last one: every open of a name gets a larger one, across restarts too. */
function nextGeneration(): number {
  lastGeneration = Math.max(Date.now(), lastGeneration + 1);
  return lastGeneration;
}

class MemoryLog {
  readonly ring: LineRing;
  readonly gen = nextGeneration();
  closed = false;
  /** Its bytes are in the process-wide count (false once it was replaced or forgotten). */
  counted = true;
  subscribers = 0;
  expiresAt: number;
  /** Byte offset of the next line's text. */
  textOffset = 0;
  /** A byte append's partial last line, held until its newline or the close (stream/text-append.ts). */
  pending: Buffer = EMPTY;
  /** The stream that replaced this one when the name was opened again while open. */
  replacedBy: MemoryLog | undefined;
  /** Push ids taken (X-Push-Id) → the first seq their batch got; the last PUSH_IDS_KEPT, oldest first. */
  readonly pushIds = new Map<string, number>();
  /** Viewers waiting for the next change; each is called once, then forgotten. */
  private readonly waiters = new Set<() => void>();
  private notifyScheduled = false;

  constructor(
    limits: StreamLimits,
    readonly ttlMs: number,
    /** Told of bytes the ring let go outside a push (the archive writer read held lines), for the process-wide count. */
    readonly released: (bytes: number) => void,
  ) {
    this.ring = new LineRing(limits.maxLines, limits.maxBytes);
    this.expiresAt = Date.now() + ttlMs;
  }

  /** Calls `wake` once on the next change (lines, close), unless cancelled with offChange. */
  onChange(wake: () => void): void {
    this.waiters.add(wake);
  }

  offChange(wake: () => void): void {
    this.waiters.delete(wake);
  }

  /**
   * Wakes the viewers at the end of the current turn of the event loop, once
   * however many pushes came in it, after the answers of the turn
   * (foundation/turn-end.ts): the push's own answer (and the next request on
   * that connection) goes out before a hundred viewers write their sockets,
   * so a producer never waits for the fan-out of its last push, and viewers
   * read what several pushes brought in one batch.
   */
  notifySoon(): void {
    if (this.notifyScheduled || this.waiters.size === 0) return;
    this.notifyScheduled = true;
    atTurnEnd('wakes', this.notifyNow);
  }

  private readonly notifyNow = (): void => {
    this.notifyScheduled = false;
    this.notify();
  };

  notify(): void {
    if (this.waiters.size === 0) return;
    const woken = [...this.waiters];
    this.waiters.clear();
    for (const wake of woken) wake();
  }
}

class MemoryCursor implements StreamCursor {
  private released = false;
  /** Its reads make lines for it alone (LineRing.slice's `once`). */
  private readonly once: boolean;

  constructor(
    private log: MemoryLog,
    public position: number,
    /** The archive writer's: the ring holds what it has not read (CursorOptions.holdsLines). */
    private readonly holdsLines = false,
    /** Reads lines made for it alone (CursorOptions.passing; the archive writer's are too). */
    passing = false,
  ) {
    this.once = holdsLines || passing;
    log.subscribers++;
    if (holdsLines) log.ring.heldFrom = position;
  }

  get generation(): number {
    return this.log.gen;
  }

  async read(maxLines: number, maxBytes: number): Promise<ReadBatch> {
    const batch: ReadBatch = { lines: NO_LINES, end: false, atHead: false };
    if (this.log.replacedBy !== undefined) {
      // Opened again: the old lines are superseded; go on with the newest stream.
      let next = this.log.replacedBy;
      while (next.replacedBy !== undefined) next = next.replacedBy;
      this.log.subscribers--;
      if (this.holdsLines) this.log.ring.heldFrom = Infinity;
      this.log = next;
      next.subscribers++;
      this.position = 0;
      batch.restart = 0;
    }
    const ring = this.log.ring;
    if (this.position < ring.firstSeq) {
      batch.dropped = { from: this.position, to: ring.firstSeq - 1 };
      this.position = ring.firstSeq;
    }
    // The archive writer copies pushes kept as sent, their lines unmade (stream/raw-block.ts).
    const pushes = this.holdsLines ? ring.sentFrom(this.position, maxLines, maxBytes) : undefined;
    if (pushes !== undefined) {
      batch.pushes = pushes;
      for (const push of pushes) this.position += push.lines;
    } else {
      batch.lines = ring.slice(this.position, maxLines, maxBytes, this.once);
      this.position += batch.lines.length;
    }
    if (this.holdsLines) {
      const before = ring.retainedBytes;
      ring.holdFrom(this.position);
      if (ring.retainedBytes < before && this.log.counted) this.log.released(before - ring.retainedBytes);
    }
    batch.end = this.log.closed && this.position >= ring.nextSeq;
    batch.atHead = this.position >= ring.nextSeq;
    return batch;
  }

  waitForMore(signal: WaitSignal): Promise<void> {
    if (this.position < this.log.ring.nextSeq || this.log.closed || this.log.replacedBy !== undefined || signal.aborted) return Promise.resolve();
    // A waiter list rather than a shared promise: an interrupted wait (ping,
    // viewer gone) leaves nothing behind on an idle stream.
    return new Promise<void>((resolve) => {
      const log = this.log;
      const done = () => {
        log.offChange(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      log.onChange(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.log.subscribers--;
    if (this.holdsLines) this.log.ring.heldFrom = Infinity;
  }
}

export class MemoryLogStream implements LogStream {
  private readonly releasedBytes = (bytes: number): void => {
    this.held -= bytes;
  };
  private readonly open_ = new Map<string, MemoryLog>();
  /** Closed streams kept readable for the grace period. */
  private readonly closed_ = new Map<string, { log: MemoryLog; until: number }>();
  private readonly sweeper: NodeJS.Timeout;

  private readonly maxStreams: number;
  private readonly budgetBytes: number;
  /** Bytes of encoded lines held across every stream (open and closed). */
  private held = 0;
  private trimmedLines = 0;

  /**
   * `maxStreams` bounds the streams held at once (open, or closed and still
   * readable) of at most `limits.maxBytes` each; `memoryBudgetBytes` bounds
   * their lines together: past it, the oldest lines of the largest streams go
   * first (their viewers see them as dropped), down to 90 % of the budget.
   */
  constructor(
    private readonly limits: StreamLimits,
    options: { sweepIntervalMs?: number; maxStreams?: number; memoryBudgetBytes?: number } = {},
  ) {
    this.maxStreams = options.maxStreams ?? Infinity;
    this.budgetBytes = options.memoryBudgetBytes ?? Infinity;
    this.sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 1000);
    this.sweeper.unref();
  }

  async open(name: string, options: OpenOptions = {}): Promise<void> {
    const ttlMs = (options.ttlSeconds ?? this.limits.ttlSeconds) * 1000;
    const current = this.open_.get(name);
    if (current !== undefined && options.keepOpen === true) return;
    if (current !== undefined) {
      // Opened again while open: a new, empty stream; its viewers follow it (restart).
      const fresh = new MemoryLog(this.limits, ttlMs, this.releasedBytes);
      current.replacedBy = fresh;
      this.held -= current.ring.retainedBytes;
      current.counted = false;
      this.open_.set(name, fresh);
      current.notify();
      return;
    }
    const replacesClosed = this.closed_.has(name);
    if (!replacesClosed && this.open_.size + this.closed_.size >= this.maxStreams) {
      throw new ServiceError(
        'LOGSVC_TOO_MANY_STREAMS',
        `this server already holds ${this.maxStreams} streams (LOG_SERVICE_MAX_STREAMS); close finished streams or retry later`,
      );
    }
    this.forget(name);
    this.open_.set(name, new MemoryLog(this.limits, ttlMs, this.releasedBytes));
  }

  async push(name: string, lines: LineInput[], options: PushOptions = {}): Promise<number> {
    const log = this.pushTarget(name, options);
    if (typeof log === 'number') return log;
    const guard = options.textGuard;
    if (guard !== undefined) {
      if (log.textOffset !== guard.textEnd || !log.pending.equals(guard.pending)) throw new TextGuardConflict();
      log.pending = guard.next;
    }
    return this.store(log, lines, options);
  }

  /** push's, for a push scanned instead of parsed: kept as sent, as push would keep the same body's lines. */
  async pushScanned(name: string, push: ScannedPush, options: PushOptions = {}): Promise<number> {
    const log = this.pushTarget(name, options);
    return typeof log === 'number' ? log : this.store(log, NO_INPUTS, options, push);
  }

  /** The open stream a push goes to; or, for a push whose id the stream took already, the first seq it got then (stored once). */
  private pushTarget(name: string, options: PushOptions): MemoryLog | number {
    const log = this.open_.get(name);
    if (log === undefined) throw new ServiceError('LOGSVC_STREAM_NOT_FOUND', `no open stream "${name}": open it first (POST)`);
    return (options.pushId === undefined ? undefined : log.pushIds.get(options.pushId)) ?? log;
  }

  /**
   * Appends lines to an open stream (synchronously: nothing else runs between
   * the checks and the append): `lines`, or the lines of `scanned`.
   */
  private store(log: MemoryLog, lines: LineInput[], options: PushOptions = {}, scanned?: ScannedPush): number {
    const heldBefore = log.ring.retainedBytes;
    const skipped = options.skipped;
    if (skipped !== undefined && skipped.lines > 0) {
      log.ring.skipTo(log.ring.nextSeq + skipped.lines);
      log.textOffset += skipped.textBytes;
    }
    const first = log.ring.nextSeq;
    const now = isoNow();
    const made =
      scanned !== undefined
        ? keptAsScanned(first, log.textOffset, scanned, now)
        : (keptAsSent(first, log.textOffset, lines, options.asSent, this.limits.maxLineBytes, now) ??
          encodeBlock(first, log.textOffset, lines, this.limits.maxLineBytes, now));
    log.textOffset += made.textBytes;
    log.ring.appendBlock(made);
    if (options.pushId !== undefined) {
      log.pushIds.set(options.pushId, first);
      if (log.pushIds.size > PUSH_IDS_KEPT) log.pushIds.delete(log.pushIds.keys().next().value!);
    }
    this.held += log.ring.retainedBytes - heldBefore;
    if (this.held > this.budgetBytes) this.enforceBudget();
    log.expiresAt = Date.now() + log.ttlMs;
    // A byte append that only grew the held partial line wakes the raw readers too (they send held bytes).
    if (made.count > 0 || options.textGuard !== undefined) log.notifySoon();
    return first;
  }

  async close(name: string): Promise<boolean> {
    const log = this.open_.get(name);
    if (log === undefined) return false;
    this.retire(name, log);
    return true;
  }

  async exists(name: string): Promise<boolean> {
    return this.open_.has(name);
  }

  async cursor(name: string, start: CursorStart, options: CursorOptions = {}): Promise<StreamCursor | null> {
    const log = this.open_.get(name) ?? this.closed_.get(name)?.log;
    if (log === undefined) return null;
    const ring = log.ring;
    let position = 0;
    // An id past the end belongs to an earlier stream under this name (it was
    // reopened): the viewer needs all of this one, from the start.
    if (start.kind === 'after') position = start.seq + 1 > ring.nextSeq ? 0 : start.seq + 1;
    else if (start.kind === 'tail') position = Math.max(ring.firstSeq, ring.nextSeq - start.lines);
    return new MemoryCursor(log, Math.max(0, position), options.holdsLines === true, options.passing === true);
  }

  async *lines(name: string): AsyncIterable<StoredLine> {
    const log = this.open_.get(name) ?? this.closed_.get(name)?.log;
    if (log === undefined) return;
    let seq = log.ring.firstSeq;
    for (;;) {
      const chunk = log.ring.slice(seq, 1000, Number.MAX_SAFE_INTEGER);
      if (chunk.length === 0) return;
      seq = (chunk[chunk.length - 1]?.seq ?? seq) + 1;
      yield* chunk;
    }
  }

  async textState(name: string): Promise<TextState | null> {
    const open = this.open_.get(name);
    const log = open ?? this.closed_.get(name)?.log;
    if (log === undefined) return null;
    return { open: open !== undefined, textEnd: log.textOffset, pending: log.pending, generation: log.gen };
  }

  async info(prefix: string): Promise<Map<string, StreamInfo>> {
    const result = new Map<string, StreamInfo>();
    const now = Date.now();
    for (const [name, log] of this.open_) {
      if (!name.startsWith(prefix)) continue;
      result.set(name, { size: log.ring.nextSeq, held: log.ring.size, subscribers: log.subscribers, ttl: formatDuration(log.expiresAt - now) });
    }
    return result;
  }

  async list(prefix: string): Promise<string[]> {
    return [...this.open_.keys()].filter((n) => n.startsWith(prefix)).sort();
  }

  memoryUsage(): StreamMemoryUsage {
    return { bytes: this.held, budgetBytes: this.budgetBytes, trimmedLines: this.trimmedLines };
  }

  async ping(): Promise<void> {}

  async shutdown(): Promise<void> {
    clearInterval(this.sweeper);
    for (const [name, log] of this.open_) this.retire(name, log);
  }

  private retire(name: string, log: MemoryLog): void {
    // A byte append's partial last line is the log's last line (docs/PROTOCOL.md §7.2).
    if (log.pending.length > 0) {
      const out = log.pending.toString('utf8');
      log.pending = EMPTY;
      this.store(log, [{ out }]);
    }
    log.closed = true;
    this.open_.delete(name);
    this.closed_.set(name, { log, until: Date.now() + this.limits.closedGraceSeconds * 1000 });
    log.notify();
  }

  /** Idle streams expire like a close; closed streams leave after their grace period. */
  private sweep(): void {
    const now = Date.now();
    for (const [name, log] of this.open_) if (log.expiresAt <= now) this.retire(name, log);
    for (const [name, entry] of this.closed_) if (entry.until <= now) this.forget(name);
  }

  /** A closed stream leaves: its lines no longer count. */
  private forget(name: string): void {
    const entry = this.closed_.get(name);
    if (entry === undefined) return;
    this.held -= entry.log.ring.retainedBytes;
    entry.log.counted = false;
    this.closed_.delete(name);
  }

  /** Over the budget: the oldest lines of the largest streams go first, down to 90 % of it. */
  private enforceBudget(): void {
    const target = Math.floor(this.budgetBytes * 0.9);
    const logs = [...this.open_.values(), ...[...this.closed_.values()].map((e) => e.log)].sort((a, b) => b.ring.retainedBytes - a.ring.retainedBytes);
    for (const log of logs) {
      if (this.held <= target) return;
      const before = log.ring.retainedBytes;
      this.trimmedLines += log.ring.trimTo(Math.max(0, before - (this.held - target)));
      this.held -= before - log.ring.retainedBytes;
    }
  }
}
