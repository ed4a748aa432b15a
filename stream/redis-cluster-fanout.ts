// Fan-out on Redis Cluster. One XREAD may only name keys of one hash slot
// (Cluster spec: CROSSSLOT), and the streams of an instance's viewers live in
// many slots, so a single blocking XREAD cannot follow them all. Instead the
// write scripts PUBLISH the stream key on a channel (Cluster broadcasts PUBLISH
// to every node); the instance holds one subscription and, for a key it
// watches, reads the new entries with a non-blocking XREAD on its command
// connection. A periodic catch-up read covers notices lost while reconnecting.
import type { RedisClient } from './redis-connection.ts';
import { Fanout, type FanoutOptions } from './redis-fanout.ts';

export class NotifyFanout extends Fanout {
  private readonly pending = new Set<string>();
  private draining: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    reader: RedisClient,
    command: RedisClient,
    options: FanoutOptions,
    readonly notifyChannel: string,
  ) {
    super(reader, command, options);
    reader.on('message', (channel: string, key: string) => {
      if (channel === notifyChannel && this.watches.has(key)) this.schedule([key]);
    });
    // No offline queue: subscribe each time the client is (re)connected, then catch up on what was missed.
    reader.on('ready', () => this.subscribe());
    reader.on('close', () => {
      if (!this.stopped) this.setDown(true, new Error('redis subscriber connection closed'));
    });
  }

  private subscribe(): void {
    if (this.stopped) return;
    this.reader.subscribe(this.notifyChannel).then(
      () => {
        this.setDown(false);
        this.schedule(this.live().map((w) => w.key));
      },
      (err: unknown) => {
        if (!this.stopped) this.setDown(true, err);
      },
    );
  }

  start(): void {
    if (this.reader.status === 'ready') this.subscribe();
    this.timer = setInterval(
      () => {
        this.schedule(this.live().map((w) => w.key));
        this.checkExpiry().catch((err: unknown) => this.options.onError?.(err));
      },
      Math.min(this.options.blockMs, this.options.expiryCheckMs),
    );
    this.timer.unref();
  }

  override async stop(): Promise<void> {
    clearInterval(this.timer);
    await super.stop();
    this.reader.disconnect();
    await this.draining;
  }

  protected watchesChanged(): void {
    // A new watch may have missed a notice between the cursor's meta read and now.
    this.schedule(this.live().map((w) => w.key));
  }

  private schedule(keys: string[]): void {
    for (const k of keys) this.pending.add(k);
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.size > 0 && !this.stopped) {
      const keys = [...this.pending];
      this.pending.clear();
      await Promise.all(
        keys.map(async (key) => {
          const watch = this.watches.get(key);
          if (watch === undefined || watch.ended) return;
          try {
            const reply = await this.command.xread('COUNT', this.options.count, 'STREAMS', key, watch.lastId);
            this.setDown(false);
            const entries = reply?.[0]?.[1] ?? [];
            this.deliver(key, entries);
            if (entries.length >= this.options.count) this.pending.add(key);
          } catch (err) {
            this.setDown(true, err);
          }
        }),
      );
    }
  }
}
