// Binary search over the sorted prefix of a typed array. Pure logic.

/** The first index in [0, count) whose value is ≥ `value`; count when there is none. */
export function lowerBound(array: Float64Array | Int32Array, count: number, value: number): number {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (array[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
