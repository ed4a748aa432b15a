// Collects lines and sends them as NDJSON batches, in order, one request at a
// time. A batch goes out when it reaches maxLines or maxBytes, or when its
// first line has waited intervalMs — so a fast producer is sent in few large
// requests and a slow one still shows up live. While a request is in flight
// new lines collect; once a full batch is waiting, `add` waits for the send, so
// memory stays bounded however fast the source is.
import type { LineInput } from './types.ts';

export interface BatcherLimits {
  maxLines: number;
  maxBytes: number;
  intervalMs: number;
}

export const DEFAULT_BATCH_LIMITS: BatcherLimits = { maxLines: 1000, maxBytes: 256 * 1024, intervalMs: 100 };

export class LineBatcher {
  private pending: string[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The chain of sends; a failed send stops the chain so no later batch leaves a gap after it. */
  private chain: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | undefined;
  private sentLines = 0;
  private requests = 0;
  /** Batches handed to the chain and not yet done. */
  private inFlight = 0;
  /** The interval passed while a send was in flight: flush as soon as it is done. */
  private flushAfterSend = false;

  constructor(
    private readonly send: (body: Buffer, lines: number) => Promise<void>,
    private readonly limits: BatcherLimits = DEFAULT_BATCH_LIMITS,
  ) {}

  async add(line: LineInput): Promise<void> {
    this.throwIfFailed();
    const json = JSON.stringify(line);
    const bytes = Buffer.byteLength(json, 'utf8') + 1;
    if (this.pending.length > 0 && this.pendingBytes + bytes > this.limits.maxBytes) await this.flush();
    this.pending.push(json);
    this.pendingBytes += bytes;
    if (this.pending.length >= this.limits.maxLines || this.pendingBytes >= this.limits.maxBytes) {
      await this.flush();
    } else {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        // With a send in flight, wait for it: against a slow server the lines then
        // gather into bigger batches (bounded by maxLines/maxBytes, where add waits)
        // instead of piling up as many small queued requests.
        if (this.inFlight > 0) {
          this.flushAfterSend = true;
          return;
        }
        // The error is kept and rethrown by the next add/finish.
        this.flush().catch(() => undefined);
      }, this.limits.intervalMs);
    }
  }

  /** Sends what is pending and resolves when every batch so far has been accepted. */
  flush(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length > 0) {
      const lines = this.pending.length;
      const body = Buffer.from(`${this.pending.join('\n')}\n`, 'utf8');
      this.pending = [];
      this.pendingBytes = 0;
      this.inFlight++;
      this.chain = this.chain.then(async () => {
        try {
          if (this.failure !== undefined) return;
          this.requests++;
          await this.send(body, lines);
          this.sentLines += lines;
        } catch (error) {
          this.failure = { error };
        } finally {
          this.inFlight--;
          if (this.inFlight === 0 && this.flushAfterSend) {
            this.flushAfterSend = false;
            if (this.pending.length > 0 && this.failure === undefined) this.flush().catch(() => undefined);
          }
        }
      });
    }
    return this.chain.then(() => this.throwIfFailed());
  }

  /** Flushes and reports what was sent; rejects with the first send's error. */
  async finish(): Promise<{ lines: number; requests: number }> {
    await this.flush();
    return { lines: this.sentLines, requests: this.requests };
  }

  /** Stops the timer; lines not yet sent are dropped (after an abort or a failure). */
  discard(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.flushAfterSend = false;
    this.pending = [];
    this.pendingBytes = 0;
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure.error;
  }
}
