// When a failed call may be sent again, and how long to wait first.
// Only calls that are safe to repeat are retried: idempotent methods whose
// body can be produced again. A call that is not idempotent (a push without
// X-Push-Id: the server would store its lines twice) is repeated only when the
// connection was never made, so the server cannot have seen it. A push with an
// X-Push-Id is idempotent: the server stores it once however often it arrives.
import { LogServiceError } from './log-service-error.ts';

const MAX_DELAY_MS = 5_000;

/** RFC 9110 §15.6: gateway failures and "unavailable" say nothing was done; retrying may succeed. */
export function isRetryableStatus(status: number): boolean {
  return status === 502 || status === 503 || status === 504;
}

export interface RetryContext {
  idempotent: boolean;
  /** False for one-shot bodies (a Readable the first attempt consumed). */
  replayable: boolean;
  /** Retry a timeout too (an idempotent call whose server may just be slow to answer). */
  timeouts?: boolean;
}

export function mayRetry(err: LogServiceError, ctx: RetryContext): boolean {
  if (!ctx.replayable) return false;
  if (err.code === 'LOGSVC_NETWORK') return ctx.idempotent || err.notSent;
  if (err.code === 'LOGSVC_TIMEOUT') return ctx.idempotent && ctx.timeouts === true;
  if (err.status !== undefined && isRetryableStatus(err.status)) return ctx.idempotent;
  return false;
}

/**
 * Exponential backoff with "equal jitter": half the step is fixed, half random,
 * so concurrent clients spread out without any of them retrying immediately.
 * A server's Retry-After (RFC 9110 §10.2.3, seconds) is honoured up to the cap.
 */
export function backoffDelay(attempt: number, baseMs: number, retryAfter?: string | null, maxMs = MAX_DELAY_MS): number {
  const seconds = retryAfter != null && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) : undefined;
  if (seconds !== undefined) return Math.min(seconds * 1000, maxMs);
  const step = Math.min(baseMs * 2 ** Math.min(attempt, 30), maxMs);
  return step / 2 + Math.random() * (step / 2);
}

/** Waits `ms`, or rejects with LOGSVC_ABORTED as soon as `signal` fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const aborted = (): LogServiceError => new LogServiceError('LOGSVC_ABORTED', 'aborted while waiting to retry', { cause: signal?.reason });
    if (signal?.aborted) {
      reject(aborted());
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(aborted());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
