// "The viewer left", for an HTTP tail: the part of an AbortSignal a tail uses
// (aborted, add/remove an 'abort' listener), without one. An AbortController
// brings an EventTarget with two maps and a record per listener; an idle tail
// holds it for hours (docs/ARCHITECTURE.md, "An idle tail's memory").
import type { WaitSignal } from '../../stream/log-stream.ts';

export class LeaveSignal implements WaitSignal {
  aborted = false;
  private listeners: (() => void)[] | undefined;

  /** Says the viewer left: every listener once, then none. */
  readonly abort = (): void => {
    if (this.aborted) return;
    this.aborted = true;
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners !== undefined) for (const listener of listeners) listener();
  };

  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.aborted) return; // as an aborted AbortSignal: no event comes
    (this.listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const listeners = this.listeners;
    if (listeners === undefined) return;
    const at = listeners.indexOf(listener);
    if (at !== -1) listeners.splice(at, 1);
  }
}
