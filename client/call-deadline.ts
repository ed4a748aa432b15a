// One attempt's cancellation: the caller's AbortSignal plus an inactivity timer.
// The timer measures time without progress (not total time), so a 100 MB
// upload on a slow link is fine while a server that stops answering is not.
import { LogServiceError } from './log-service-error.ts';

export class CallDeadline {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private readonly onOuterAbort: () => void;
  /** Why the attempt was cancelled, once it was. */
  private reason: 'timeout' | 'aborted' | undefined;

  constructor(
    private readonly timeoutMs: number,
    private readonly outer: AbortSignal | undefined,
  ) {
    this.onOuterAbort = () => this.cancel('aborted');
    if (outer?.aborted) this.cancel('aborted');
    else outer?.addEventListener('abort', this.onOuterAbort, { once: true });
    this.touch();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get timedOut(): boolean {
    return this.reason === 'timeout';
  }

  get aborted(): boolean {
    return this.reason === 'aborted';
  }

  /** Progress happened: restart the inactivity timer. */
  touch(): void {
    if (this.reason !== undefined) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (Number.isFinite(this.timeoutMs)) {
      this.timer = setTimeout(() => this.cancel('timeout'), this.timeoutMs);
    }
  }

  /** The caller is busy with what we gave it (e.g. a consumer between two tail events): stop counting. */
  pause(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The attempt is over: release the timer and the listener on the caller's signal. */
  dispose(): void {
    this.pause();
    this.outer?.removeEventListener('abort', this.onOuterAbort);
  }

  /** Maps a failure of this attempt to the client error it stands for, when it was ours. */
  reasonError(method: string, url: string): LogServiceError | undefined {
    if (this.reason === 'aborted') {
      return new LogServiceError('LOGSVC_ABORTED', `${method} ${url}: aborted`, { method, url, cause: this.outer?.reason });
    }
    if (this.reason === 'timeout') {
      return new LogServiceError('LOGSVC_TIMEOUT', `${method} ${url}: no progress for ${formatMs(this.timeoutMs)}`, { method, url });
    }
    return undefined;
  }

  private cancel(reason: 'timeout' | 'aborted'): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.controller.abort(new Error(reason));
  }
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`;
}
