// Redis Streams LogStream (docs/BACKENDS.md). One Redis stream per log stream; every
// write is one Lua script call (redis-scripts.ts), so seqs, offsets, retention
// and close are decided in Redis and are the same on every instance. Viewers
// read through a per-instance fan-out (redis-fanout.ts): a fixed few Redis
// connections per instance, however many viewers.
import { Cluster } from 'ioredis';
import { isServiceError, ServiceError } from '../foundation/errors.ts';
import { formatDuration } from './format-duration.ts';
import { normaliseLine, storedLineFromJson } from './line-codec.ts';
import type {
  CursorStart,
  LineInput,
  LogStream,
  OpenOptions,
  PushOptions,
  ReadBatch,
  StoredLine,
  StreamCursor,
  StreamInfo,
  StreamLimits,
  TextState,
  WaitSignal,
} from './log-stream.ts';
import { NotifyFanout } from './redis-cluster-fanout.ts';
import type { RedisClient, RedisClientFactory } from './redis-connection.ts';
import { BlockingFanout, type Fanout } from './redis-fanout.ts';
import { RedisKeys, lineId } from './redis-keys.ts';
import { StreamScripts } from './redis-scripts.ts';
import { StreamWatch, lineOfEntry } from './redis-stream-watch.ts';
import { isTextGuardConflict } from './text-append.ts';

const EMPTY = Buffer.alloc(0);
/** A close pushes a held partial line first; another appender may win that race a few times. */
const CLOSE_ATTEMPTS = 16;

export interface RedisLogStreamOptions {
  /** Namespace of every key (default `logsvc:`); no braces. */
  prefix?: string;
  /** Cap of one XREAD BLOCK in ms (default 5000). Data and new keys wake the reader earlier. */
  blockMs?: number;
  /** Entries per stream per fan-out read (default 1000). */
  readCount?: number;
  /** Local buffer of recent lines per watched stream (defaults 2000 lines, 2 MiB; never above the stream limits). */
  bufferLines?: number;
  bufferBytes?: number;
  /** How often watched streams are checked for idle expiry (default 5000 ms). */
  expiryCheckMs?: number;
  /** How long operations wait for the first connection before failing (default 5000 ms). */
  connectWaitMs?: number;
  /** Connection errors (the clients reconnect by themselves); default: ignored. */
  onError?: (err: unknown) => void;
}

/** Redis errors that mean "not now" rather than "this request is wrong". */
const TRANSIENT_REPLY = /^(LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY|MOVED|ASK)\b/;

function toServiceError(err: unknown): ServiceError {
  if (isServiceError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  // The client's own words (addresses, ioredis options, replies) stay in the
  // server's log through `cause`; the caller is told what it can act on.
  if (err instanceof Error && err.name === 'ReplyError' && !TRANSIENT_REPLY.test(message)) {
    return new ServiceError('LOGSVC_INTERNAL', 'redis error: the stream backend refused the command', { cause: err });
  }
  return new ServiceError('LOGSVC_BACKEND_UNAVAILABLE', 'redis unavailable: the stream backend cannot be reached; retry shortly', { cause: err });
}

type Entry = [id: string, fields: string[]];

/** KEYS[1] = lease key; ARGV: owner, ttlMs. 1 when `owner` holds the lease now (taken or renewed). */
const LEASE = `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

/** KEYS[1] = lease key; ARGV: owner. Deletes the lease only when `owner` still holds it. */
const RELEASE_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`;

class RedisCursor implements StreamCursor {
  private released = false;

  constructor(
    private readonly owner: RedisLogStream,
    private watch: StreamWatch,
    public position: number,
  ) {
    watch.subscribers++;
  }

  get generation(): number {
    return this.watch.gen;
  }

  async read(maxLines: number, maxBytes: number): Promise<ReadBatch> {
    if (this.owner.stopped) throw new ServiceError('LOGSVC_SHUTTING_DOWN', 'the log stream backend is shutting down: reconnect to resume');
    if (this.watch.replacedBy !== undefined) {
      // Opened again: the old lines are superseded; go on with the new generation from seq 0.
      const next = this.owner.watchOf(this.watch.name, this.watch.replacedBy);
      this.release();
      this.released = false;
      this.watch = next;
      next.subscribers++;
      this.position = 0;
      return { ...(await this.read(maxLines, maxBytes)), restart: 0 };
    }
    const w = this.watch;
    if (this.position < w.buffer.firstSeq) return this.readRedis(maxLines, maxBytes);
    if (this.position >= w.nextSeq && !w.ended && this.owner.fanout.down) {
      throw new ServiceError('LOGSVC_BACKEND_UNAVAILABLE', 'redis unavailable: the stream reader lost its connection; resume with Last-Event-ID');
    }
    const lines = w.buffer.slice(this.position, maxLines, maxBytes);
    this.position += lines.length;
    return { lines, end: w.ended && this.position >= w.nextSeq };
  }

  /** Behind the local buffer: read Redis by entry id; what Redis trimmed is a dropped range. */
  private async readRedis(maxLines: number, maxBytes: number): Promise<ReadBatch> {
    const w = this.watch;
    const entries: Entry[] = await this.owner.call(() => this.owner.command.xrange(w.key, lineId(w.gen, this.position), `${w.gen + 1}-0`, 'COUNT', maxLines));
    const lines: StoredLine[] = [];
    const batch: ReadBatch = { lines, end: false };
    let total = 0;
    for (const entry of entries) {
      const parsed = lineOfEntry(w.gen, entry);
      if (parsed === undefined) continue;
      if (batch.lines.length === 0 && parsed.seq > this.position) {
        batch.dropped = { from: this.position, to: parsed.seq - 1 };
        this.position = parsed.seq;
      }
      if (parsed.seq !== this.position) break;
      if (batch.lines.length > 0 && total + parsed.line.eventBytes > maxBytes) break;
      lines.push(parsed.line);
      total += parsed.line.eventBytes;
      this.position++;
    }
    if (batch.lines.length === 0 && this.position < w.nextSeq) {
      // Nothing left in Redis up to what the reader has seen: all of it was trimmed (or the stream is gone).
      batch.dropped = { from: this.position, to: w.nextSeq - 1 };
      this.position = w.nextSeq;
    }
    batch.end = w.ended && this.position >= w.nextSeq;
    return batch;
  }

  waitForMore(signal: WaitSignal): Promise<void> {
    const w = this.watch;
    if (this.position < w.nextSeq || w.ended || w.replacedBy !== undefined || signal.aborted || this.owner.fanout.down) return Promise.resolve();
    return w.waitForChange(signal);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.watch.subscribers--;
    if (this.watch.subscribers === 0) this.owner.fanout.detach(this.watch);
  }
}

export class RedisLogStream implements LogStream {
  /** @internal */ readonly command: RedisClient;
  /** @internal */ readonly fanout: Fanout;
  /** @internal */ stopped = false;
  private readonly reader: RedisClient;
  private readonly keys: RedisKeys;
  private readonly scripts: StreamScripts;
  private readonly connected: Promise<void>;
  private readonly bufferLines: number;
  private readonly bufferBytes: number;

  constructor(
    clients: RedisClientFactory,
    private readonly limits: StreamLimits,
    options: RedisLogStreamOptions = {},
  ) {
    const onError = options.onError ?? (() => {});
    this.keys = new RedisKeys(options.prefix ?? 'logsvc:');
    this.command = clients('command');
    this.reader = clients('reader');
    // ioredis reports connection trouble as 'error' events; a listener keeps them from being "unhandled".
    this.command.on('error', onError);
    this.reader.on('error', onError);
    this.scripts = new StreamScripts(this.command);
    this.bufferLines = Math.max(1, Math.min(limits.maxLines, options.bufferLines ?? 2000));
    this.bufferBytes = Math.max(1, Math.min(limits.maxBytes, options.bufferBytes ?? 2 * 1024 * 1024));
    const fanoutOptions = {
      blockMs: options.blockMs ?? 5000,
      count: options.readCount ?? 1000,
      expiryCheckMs: options.expiryCheckMs ?? 5000,
      onError,
    };
    this.fanout =
      this.command instanceof Cluster
        ? new NotifyFanout(this.reader, this.command, fanoutOptions, `${this.keys.prefix}notify`)
        : new BlockingFanout(this.reader, this.command, fanoutOptions);
    this.fanout.start();
    this.connected = waitForReady(this.command, options.connectWaitMs ?? 5000);
  }

  async open(name: string, options: OpenOptions = {}): Promise<void> {
    const ttlMs = Math.max(1, Math.round((options.ttlSeconds ?? this.limits.ttlSeconds) * 1000));
    await this.call(() => this.scripts.open(this.keys.meta(name), this.keys.stream(name), ttlMs, Date.now(), options.keepOpen === true));
  }

  async push(name: string, lines: LineInput[], options: PushOptions = {}): Promise<number> {
    const now = new Date().toISOString();
    const skipped = options.skipped ?? { lines: 0, textBytes: 0 };
    const args: (string | number | Buffer)[] = [
      this.limits.maxLines,
      this.limits.maxBytes,
      this.fanout.notifyChannel,
      skipped.lines,
      skipped.textBytes,
      options.pushId ?? '',
      options.textGuard === undefined ? '' : options.textGuard.textEnd,
      options.textGuard?.pending ?? '',
      options.textGuard?.next ?? '',
    ];
    const parts: [head: string, tail: string, textBytes: number][] = [];
    for (const input of lines) {
      // Seqs are allocated inside the script; a line without `pos` gets pos = seq,
      // so its JSON is sent in two halves around the number.
      const line = normaliseLine(input, 0, this.limits.maxLineBytes, now);
      const json = JSON.stringify(line);
      const textBytes = Buffer.byteLength(line.out, 'utf8');
      if (input.pos === undefined) {
        const head = `{"level":${JSON.stringify(line.level)},"pos":`;
        if (!json.startsWith(`${head}0,`)) throw new ServiceError('LOGSVC_INTERNAL', 'unexpected line JSON layout');
        parts.push([head, json.slice(head.length + 1), textBytes]);
      } else {
        parts.push([json, '', textBytes]);
      }
    }
    for (const part of parts) args.push(...part);
    const key = this.keys.stream(name);
    const done = await this.call(() => this.scripts.push(this.keys.meta(name), key, args));
    if (done === undefined) throw new ServiceError('LOGSVC_STREAM_NOT_FOUND', `no open stream "${name}": open it first (POST)`);
    if ('duplicate' in done) return done.duplicate;
    const watch = this.fanout.get(key);
    if (watch !== undefined && watch.gen === done.gen && watch.nextSeq === done.first && parts.length > 0) {
      let offset = done.textStart;
      watch.appendPushed(
        parts.map(([head, tail, textBytes], i) => {
          const seq = done.first + i;
          const line = storedLineFromJson(seq, offset, textBytes, tail === '' ? head : `${head}${seq}${tail}`);
          offset += textBytes;
          return line;
        }),
      );
    }
    return done.first;
  }

  async close(name: string): Promise<boolean> {
    const graceMs = Math.max(1, Math.round(this.limits.closedGraceSeconds * 1000));
    for (let attempt = 0; attempt < CLOSE_ATTEMPTS; attempt++) {
      // A byte append's held partial line is the log's last line (docs/PROTOCOL.md §7.2): pushed
      // first, under the same guard as an append, and the close refuses while one is held.
      const state = await this.textState(name);
      if (state !== null && state.open && state.pending.length > 0) {
        const textGuard = { textEnd: state.textEnd, pending: state.pending, next: EMPTY };
        try {
          await this.push(name, [{ out: state.pending.toString('utf8') }], { textGuard });
        } catch (err) {
          if (isTextGuardConflict(err)) continue;
          throw err;
        }
      }
      const final = await this.call(() => this.scripts.close(this.keys.meta(name), this.keys.stream(name), graceMs, this.fanout.notifyChannel));
      if (final !== -2) return final >= 0;
    }
    throw new ServiceError('LOGSVC_CONFLICT', `"${name}" is still being appended to: close it again when its producer stops`);
  }

  async textState(name: string): Promise<TextState | null> {
    const [gen, closed, text, pend] = await this.call(() => this.command.hmgetBuffer(this.keys.meta(name), 'gen', 'closed', 'text', 'pend'));
    if (gen === null || gen === undefined) return null;
    return { open: closed?.toString() !== '1', textEnd: Number(text?.toString() ?? 0), pending: pend ?? EMPTY, generation: Number(gen.toString()) };
  }

  async exists(name: string): Promise<boolean> {
    const [gen, closed] = await this.call(() => this.command.hmget(this.keys.meta(name), 'gen', 'closed'));
    return gen !== null && gen !== undefined && closed !== '1';
  }

  async cursor(name: string, start: CursorStart): Promise<StreamCursor | null> {
    const [gen, closed, next, lo] = await this.call(() => this.command.hmget(this.keys.meta(name), 'gen', 'closed', 'next', 'lo'));
    if (gen === null || gen === undefined || this.stopped) return null;
    const nextSeq = Number(next ?? 0);
    const watch = this.watchFor(name, Number(gen), nextSeq, closed === '1');
    let position = 0;
    // An id past the end belongs to an earlier stream under this name (it was
    // reopened): the viewer needs all of this one, from the start.
    if (start.kind === 'after') position = start.seq + 1 > nextSeq ? 0 : start.seq + 1;
    else if (start.kind === 'tail') position = Math.max(Number(lo ?? 0), nextSeq - start.lines);
    return new RedisCursor(this, watch, Math.max(0, position));
  }

  async *lines(name: string): AsyncIterable<StoredLine> {
    const [genText] = await this.call(() => this.command.hmget(this.keys.meta(name), 'gen'));
    if (genText === null || genText === undefined) return;
    const gen = Number(genText);
    const key = this.keys.stream(name);
    let from = lineId(gen, 0);
    for (let page = 0; page < 1_000_000; page++) {
      const entries: Entry[] = await this.call(() => this.command.xrange(key, from, `${gen + 1}-0`, 'COUNT', 1000));
      for (const entry of entries) {
        const parsed = lineOfEntry(gen, entry);
        if (parsed !== undefined) yield parsed.line;
      }
      const last = entries[entries.length - 1];
      if (entries.length < 1000 || last === undefined) return;
      from = `(${last[0]}`;
    }
  }

  async info(prefix: string): Promise<Map<string, StreamInfo>> {
    const result = new Map<string, StreamInfo>();
    const metas = await this.scanMeta(prefix);
    await Promise.all(
      metas.map(async ({ name, key }) => {
        const [[gen, closed, next, lo], pttl] = await this.call(() =>
          Promise.all([this.command.hmget(key, 'gen', 'closed', 'next', 'lo'), this.command.pttl(key)]),
        );
        if (gen === null || gen === undefined || closed === '1') return;
        const watch = this.fanout.get(this.keys.stream(name));
        const subscribers = watch !== undefined && watch.gen === Number(gen) ? watch.subscribers : 0;
        const size = Number(next ?? 0);
        result.set(name, { size, held: size - Number(lo ?? 0), subscribers, ttl: formatDuration(Math.max(0, pttl)) });
      }),
    );
    return result;
  }

  async list(prefix: string): Promise<string[]> {
    const metas = await this.scanMeta(prefix);
    const open = await Promise.all(
      metas.map(async ({ name, key }) => {
        const [gen, closed] = await this.call(() => this.command.hmget(key, 'gen', 'closed'));
        return gen !== null && gen !== undefined && closed !== '1' ? name : undefined;
      }),
    );
    return open.filter((n): n is string => n !== undefined).sort();
  }

  /** docs/ARCHIVE.md §5: SET NX PX, or PEXPIRE when `owner` holds it already; one round trip. */
  async archiveLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const got = await this.call(() => this.command.eval(LEASE, 1, this.keys.lease(name), owner, ttlMs));
    return got === 1;
  }

  async releaseArchiveLease(name: string, owner: string): Promise<void> {
    if (this.stopped) return;
    await this.call(() => this.command.eval(RELEASE_LEASE, 1, this.keys.lease(name), owner));
  }

  async ping(): Promise<void> {
    await this.call(() => this.command.ping());
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.fanout.stop();
    try {
      await this.command.quit();
    } catch {
      this.command.disconnect();
    }
  }

  /** Runs a Redis operation, turning its failures into catalogue errors (503 when Redis is unreachable). */
  /** @internal */ async call<T>(op: () => Promise<T>): Promise<T> {
    await this.connected;
    try {
      return await op();
    } catch (err) {
      if (isTextGuardConflict(err)) throw err;
      throw toServiceError(err);
    }
  }

  /** The watch this instance keeps for the stream's current generation, created on first use. */
  /** @internal The watch of generation `gen` of `name`, read from its start (a reopened stream's readers move to it). */
  watchOf(name: string, gen: number): StreamWatch {
    return this.watchFor(name, gen, 0, false);
  }

  private watchFor(name: string, gen: number, nextSeq: number, closed: boolean): StreamWatch {
    const key = this.keys.stream(name);
    const existing = this.fanout.get(key);
    if (existing !== undefined && existing.gen === gen) return existing;
    const watch = new StreamWatch(name, key, this.keys.meta(name), gen, nextSeq, closed, this.bufferLines, this.bufferBytes);
    // A newer generation is already watched: this meta read was stale; serve it detached.
    if (existing !== undefined && existing.gen > gen) watch.end();
    else this.fanout.attach(watch);
    return watch;
  }

  /** SCAN MATCH over the namespace (never KEYS), on every master of a Cluster. */
  private async scanMeta(prefix: string): Promise<{ name: string; key: string }[]> {
    const pattern = this.keys.metaPattern(prefix);
    const nodes = this.command instanceof Cluster ? this.command.nodes('master') : [this.command];
    const found = new Map<string, string>();
    await this.call(() =>
      Promise.all(
        nodes.map(async (node) => {
          let cursor = '0';
          for (let i = 0; i < 1_000_000; i++) {
            const [nextCursor, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
            for (const key of keys) {
              const name = this.keys.nameOfMeta(key);
              if (name !== undefined && name.startsWith(prefix)) found.set(key, name);
            }
            cursor = nextCursor;
            if (cursor === '0') return;
          }
        }),
      ),
    );
    return [...found].map(([key, name]) => ({ key, name }));
  }
}

/** Resolves when the client is first ready, or after `ms` (operations then fail fast on their own). */
function waitForReady(client: RedisClient, ms: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      client.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    client.once('ready', done);
  });
}
