// The generator side of the IPC protocol in lib/processes.ts.
export function generatorConfig<T>(): T {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error('usage: node --import=tsx bench/gen/<script>.ts <config json>');
  return JSON.parse(raw) as T;
}

export function post(message: Record<string, unknown>): void {
  process.send?.(message);
}

/** Sends the result and exits (after the IPC message is flushed). */
export function finish(result: unknown): void {
  if (process.send === undefined) {
    console.log(JSON.stringify(result));
    process.exit(0);
  }
  process.send({ result }, () => process.exit(0));
}

/** Resolves on the next IPC message of this type from the orchestrator. */
export function receive(type: string): Promise<Record<string, unknown>> {
  return new Promise((done) => {
    const on = (m: Record<string, unknown>) => {
      if (m.type === type) {
        process.off('message', on);
        done(m);
      }
    };
    process.on('message', on);
  });
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * The latency figures' steady state: true for a line stamped `stamp` (µs
 * since the run's epoch) `warmupMs` or more after the first stamp seen (a
 * freshly started server's first seconds are V8 still optimising its code).
 * Always false without a warm-up: there is one histogram then, not two alike.
 */
export function steadyState(warmupMs: number | undefined): (stamp: number) => boolean {
  const warmupUs = (warmupMs ?? 0) * 1000;
  let from = -1;
  return (stamp) => {
    if (from === -1) from = stamp + warmupUs;
    return warmupUs > 0 && stamp >= from;
  };
}
