// A wait bounded by a timer that is cleared as soon as the wait ends. Racing a
// promise against `sleep(ms)` instead leaves the sleep's timer pending for its
// whole length, which keeps the test process (and mocha) alive that long.

/** `promise`'s value, or `onTimeout` once `ms` have passed; the timer never outlives the wait. */
export function within<T, F = undefined>(promise: Promise<T>, ms: number, onTimeout?: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<F>((resolve) => {
    timer = setTimeout(() => resolve(onTimeout as F), ms);
  });
  return Promise.race([promise, timedOut]).finally(() => clearTimeout(timer));
}
