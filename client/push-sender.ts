// Sends a push's batches, one request at a time, in order, and rides out an
// outage: every batch carries an idempotency key (X-Push-Id: a random prefix
// for this push and the batch's number), so it is safe to repeat after a 503,
// a refused or reset connection, or a timeout: the server stores a batch once
// however often it arrives (the last 256 ids of a stream are remembered). A
// failure that may pass is retried with backoff (at most 2 s apart, honouring
// Retry-After) until `retryForMs` have passed since the outage began; then the
// push gives up with the last failure.
//
// After an outage the stream itself may be gone: Redis restarted without
// persistence, or an in-memory server was restarted. The push then gets 404
// LOGSVC_STREAM_NOT_FOUND where it had been pushing, and (unless told not to)
// opens the stream again and carries on there. Nothing the server still had
// is lost by that: it had nothing. A 404 with no outage before it (a stream
// never opened, or closed while the service was up) is not retried.
import { randomBytes } from 'node:crypto';
import { errnoOf, type HttpTransport } from './http-transport.ts';
import { LogServiceError } from './log-service-error.ts';
import { backoffDelay } from './retry-policy.ts';
import type { PushEvent } from './types.ts';

/** Longest wait between two attempts of a push: an outage's end is noticed within it. */
const MAX_PUSH_RETRY_DELAY_MS = 2_000;

export interface PushSenderOptions {
  /** The stream's URL (PUT pushes, POST opens). */
  url: URL;
  openUrl: URL;
  retryForMs: number;
  reopen: boolean;
  signal: AbortSignal | undefined;
  timeoutMs: number | undefined;
  onEvent: ((event: PushEvent) => void) | undefined;
  /** Lines read and waiting, for the `recovered` event. */
  pendingLines: () => number;
  /**
   * Where batches go instead of `PUT url` / `POST openUrl`: the gRPC Push call
   * (grpc-streams.ts). The same ids, retries and reopening apply.
   */
  batches?: BatchTarget;
}

/** A way to deliver batches other than HTTP: `send` and `open` retry what may pass through `retryDelay`. */
export interface BatchTarget {
  send(body: Buffer, pushId: string, retryDelay: RetryDelay, signal: AbortSignal | undefined): Promise<void>;
  open(retryDelay: RetryDelay, signal: AbortSignal | undefined): Promise<void>;
}

type RetryDelay = (failure: LogServiceError, retryAfter: string | null) => number | undefined;

interface Outage {
  since: number;
  attempts: number;
  last: LogServiceError;
  reopened: boolean;
}

export class PushSender {
  private readonly idPrefix = randomBytes(9).toString('base64url');
  private batches = 0;
  private outage: Outage | undefined;
  /** The last outage's start, kept after it gave up (for the error). */
  private gaveUpAfterMs = 0;
  acceptedLines = 0;
  requests = 0;

  constructor(
    private readonly transport: HttpTransport,
    private readonly options: PushSenderOptions,
  ) {}

  /** True while batches fail (between `retrying` and `recovered`). */
  get failing(): boolean {
    return this.outage !== undefined;
  }

  /** How long the push retried before it gave up (0 if it did not). */
  get retriedForMs(): number {
    return this.gaveUpAfterMs;
  }

  /** The outage's last failure (while failing). */
  get lastFailure(): LogServiceError | undefined {
    return this.outage?.last;
  }

  /** Sends one batch; resolves once the server took it, rejects with the failure that ended the push. */
  async deliver(body: Buffer, lines: number): Promise<void> {
    const pushId = `${this.idPrefix}.${this.batches++}`;
    for (;;) {
      try {
        const batches = this.options.batches;
        if (batches !== undefined) await batches.send(body, pushId, (failure, retryAfter) => this.retryDelay(failure, retryAfter), this.options.signal);
        else
          await this.transport.status({
            method: 'PUT',
            url: this.options.url,
            idempotent: true,
            retryTimeouts: true,
            headers: { 'content-type': 'application/x-ndjson', 'x-push-id': pushId },
            body: { replayable: true, length: body.length, create: () => body },
            retryDelay: (failure, retryAfter) => this.retryDelay(failure, retryAfter),
            signal: this.options.signal,
            timeoutMs: this.options.timeoutMs,
          });
      } catch (err) {
        if (this.mayReopen(err)) {
          await this.reopen(err);
          continue; // the same batch, into the new stream
        }
        throw err;
      }
      this.requests++;
      this.acceptedLines += lines;
      this.recovered();
      return;
    }
  }

  private mayReopen(err: unknown): err is LogServiceError {
    return (
      this.options.reopen &&
      this.outage !== undefined &&
      !this.outage.reopened &&
      err instanceof LogServiceError &&
      err.status === 404 &&
      err.code === 'LOGSVC_STREAM_NOT_FOUND'
    );
  }

  private async reopen(notFound: LogServiceError): Promise<void> {
    this.outage!.reopened = true;
    if (this.options.batches !== undefined) await this.options.batches.open((failure, retryAfter) => this.retryDelay(failure, retryAfter), this.options.signal);
    else
      await this.transport.status({
        method: 'POST',
        url: this.options.openUrl,
        idempotent: true,
        retryTimeouts: true,
        retryDelay: (failure, retryAfter) => this.retryDelay(failure, retryAfter),
        signal: this.options.signal,
        timeoutMs: this.options.timeoutMs,
      });
    this.options.onEvent?.({ type: 'reopened', error: notFound });
  }

  /** The wait before the next attempt, or undefined once the outage has lasted `retryForMs`. */
  private retryDelay(failure: LogServiceError, retryAfter: string | null): number | undefined {
    if (this.options.retryForMs <= 0) return undefined;
    // A network failure with no system or socket error code is not the network (a port fetch refuses, say).
    if (failure.code === 'LOGSVC_NETWORK' && errnoOf(failure.cause) === undefined) return undefined;
    const now = Date.now();
    if (this.outage === undefined) {
      this.outage = { since: now, attempts: 0, last: failure, reopened: false };
      this.options.onEvent?.({ type: 'retrying', error: failure, retryForMs: this.options.retryForMs });
    }
    const outage = this.outage;
    outage.last = failure;
    const left = outage.since + this.options.retryForMs - now;
    if (left <= 0) {
      this.gaveUpAfterMs = now - outage.since;
      return undefined;
    }
    const base = this.transport.config.retryDelayMs;
    // Never sooner than half the first step, even when told "Retry-After: 0".
    return Math.min(Math.max(base / 2, backoffDelay(outage.attempts++, base, retryAfter, MAX_PUSH_RETRY_DELAY_MS)), left);
  }

  private recovered(): void {
    const outage = this.outage;
    if (outage === undefined) return;
    this.outage = undefined;
    this.options.onEvent?.({ type: 'recovered', afterMs: Date.now() - outage.since, attempts: outage.attempts + 1, pendingLines: this.options.pendingLines() });
  }
}
