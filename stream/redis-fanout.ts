// Fan-out (docs/BACKENDS.md: "each instance reads a key once and fans out to its local
// viewers"). One reader per instance follows every stream that has local
// viewers and fills each stream's StreamWatch; viewers never talk to Redis
// unless they are behind the watch's small buffer. The number of Redis
// connections is fixed per instance, whatever the number of viewers.
//
// BlockingFanout (single Redis, Sentinel): one XREAD BLOCK over all watched
// keys on a dedicated connection. A new key interrupts the wait with CLIENT
// UNBLOCK so the read is re-issued with it at once.
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClient } from './redis-connection.ts';
import type { StreamEntry, StreamWatch } from './redis-stream-watch.ts';

export interface FanoutOptions {
  /** Longest single XREAD BLOCK; a cap, not a poll interval (new data wakes it at once). */
  blockMs: number;
  /** Entries per stream per read. */
  count: number;
  /** How often watched streams are checked for idle expiry (an expired key writes no marker). */
  expiryCheckMs: number;
  onError?: (err: unknown) => void;
}

export abstract class Fanout {
  protected readonly watches = new Map<string, StreamWatch>();
  protected stopped = false;
  private down_ = false;
  private lastExpiryCheck = Date.now();

  constructor(
    protected readonly reader: RedisClient,
    protected readonly command: RedisClient,
    protected readonly options: FanoutOptions,
  ) {}

  /** True while the reader cannot reach Redis: viewers at the head of a stream get an error, not silence. */
  get down(): boolean {
    return this.down_;
  }

  /** PUBLISH channel the write scripts notify, or '' when the reader needs none. */
  abstract readonly notifyChannel: string;

  get(key: string): StreamWatch | undefined {
    return this.watches.get(key);
  }

  /** Follows `watch.key` from `watch.lastId` on; replaces (and ends) an older generation's watch. */
  attach(watch: StreamWatch): void {
    const old = this.watches.get(watch.key);
    if (old !== undefined && old !== watch) old.end(watch.ended ? undefined : watch.gen);
    this.watches.set(watch.key, watch);
    if (!watch.ended) this.watchesChanged();
  }

  detach(watch: StreamWatch): void {
    if (this.watches.get(watch.key) === watch) this.watches.delete(watch.key);
  }

  abstract start(): void;

  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of this.watches.values()) w.end();
    this.watches.clear();
  }

  protected live(): StreamWatch[] {
    return [...this.watches.values()].filter((w) => !w.ended);
  }

  protected abstract watchesChanged(): void;

  protected setDown(down: boolean, err?: unknown): void {
    if (down && err !== undefined && !this.down_) this.options.onError?.(err);
    if (this.down_ === down) return;
    this.down_ = down;
    // Waiting viewers wake up and read: at the head that now throws LOGSVC_BACKEND_UNAVAILABLE.
    if (down) for (const w of this.watches.values()) w.notify();
  }

  protected deliver(key: string, entries: StreamEntry[]): void {
    this.watches.get(key)?.accept(entries);
  }

  /** Ends watches whose stream expired or was reopened (neither writes a marker this reader sees). */
  protected async checkExpiry(): Promise<void> {
    if (Date.now() - this.lastExpiryCheck < this.options.expiryCheckMs) return;
    this.lastExpiryCheck = Date.now();
    const live = this.live();
    const gens = await Promise.all(live.map((w) => this.command.hget(w.metaKey, 'gen')));
    live.forEach((w, i) => {
      const gen = gens[i];
      if (gen !== String(w.gen)) w.end(gen === null || gen === undefined ? undefined : Number(gen));
    });
  }
}

export class BlockingFanout extends Fanout {
  readonly notifyChannel = '';
  private loop: Promise<void> | undefined;
  /** Bumped whenever a key is added; the in-flight XREAD knows which version it covers. */
  private version = 0;
  private inflight: number | undefined;
  private readerId: number | undefined;
  private idle: (() => void) | undefined;

  constructor(reader: RedisClient, command: RedisClient, options: FanoutOptions) {
    super(reader, command, options);
    reader.on('close', () => {
      this.readerId = undefined;
    });
    // The read loop only clears `down` after a read, and it sleeps while no
    // stream has local viewers: without this, the first viewer after an outage
    // would find the reader "down" and be cut off at once.
    reader.on('ready', () => {
      if (!this.stopped) this.setDown(false);
    });
  }

  start(): void {
    this.loop ??= this.run();
  }

  override async stop(): Promise<void> {
    await super.stop();
    this.idle?.();
    this.reader.disconnect();
    await this.loop;
  }

  protected watchesChanged(): void {
    this.version++;
    this.idle?.();
    void this.unblock(20);
  }

  /** CLIENT UNBLOCK the reader if its XREAD misses a key; retried while the XREAD may not have reached Redis yet. */
  private async unblock(attempts: number): Promise<void> {
    for (let i = 0; i < attempts && !this.stopped; i++) {
      if (this.inflight === undefined || this.inflight >= this.version) return;
      if (this.readerId !== undefined) {
        try {
          if (Number(await this.command.call('CLIENT', 'UNBLOCK', this.readerId)) === 1) return;
        } catch {
          return; // Redis down, or CLIENT UNBLOCK not allowed: the BLOCK cap re-issues the read
        }
      }
      await sleep(50);
    }
  }

  private async run(): Promise<void> {
    let backoffMs = 100;
    while (!this.stopped) {
      const live = this.live();
      if (live.length === 0) {
        await new Promise<void>((resolve) => {
          this.idle = resolve;
        });
        this.idle = undefined;
        continue;
      }
      try {
        if (this.reader.status !== 'ready') await this.readyOrTimeout(1000);
        this.readerId ??= Number(await this.reader.call('CLIENT', 'ID'));
        if (this.reader.status === 'ready') this.setDown(false);
        this.inflight = this.version;
        const reply = await this.reader.xread(
          'COUNT',
          this.options.count,
          'BLOCK',
          this.options.blockMs,
          'STREAMS',
          ...live.map((w) => w.key),
          ...live.map((w) => w.lastId),
        );
        this.inflight = undefined;
        this.setDown(false);
        for (const [key, entries] of reply ?? []) this.deliver(key, entries);
        await this.checkExpiry().catch((err: unknown) => this.options.onError?.(err));
        backoffMs = 100;
      } catch (err) {
        this.inflight = undefined;
        if (this.stopped) break;
        this.setDown(true, err);
        await this.readyOrTimeout(backoffMs);
        backoffMs = Math.min(backoffMs * 2, 1000);
      }
    }
  }

  /** Resolves when the reader is (re)connected, or after `ms`. */
  private readyOrTimeout(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.reader.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.reader.once('ready', done);
    });
  }
}
