// The Range request header for one byte range (RFC 9110 §14.1.2, §14.2).
import { ServiceError } from '../foundation/errors.ts';
import type { ByteRange } from '../store/blob-store.ts';

/**
 * The range to serve, or undefined for the whole blob. Per RFC 9110 §14.2 a
 * server may ignore a Range header it does not support: malformed values and
 * multiple ranges get the whole blob (200). An unsatisfiable range is 416.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return undefined;
  const [, first, last] = m as unknown as [string, string, string];
  if (first === '' && last === '') return undefined;
  if (first === '') {
    // §14.1.2: suffix-range "-N" is the last N bytes.
    const suffix = Number(last);
    if (suffix === 0) throw unsatisfiable(size);
    // §14.1.1: on an empty representation a non-zero suffix range is satisfiable,
    // but no 206 can describe it: ignore the header and send the (empty) whole.
    if (size === 0) return undefined;
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  // Invalid (last < first): ignore the header. Compared exactly: past 2^53 Number() rounds.
  if (last !== '' && BigInt(last) < BigInt(first)) return undefined;
  if (start >= size) throw unsatisfiable(size);
  return { start, end };
}

function unsatisfiable(size: number): ServiceError {
  const err = new ServiceError('LOGSVC_RANGE_NOT_SATISFIABLE', `the range is outside the blob (size ${size} bytes)`);
  (err as ServiceError & { size?: number }).size = size;
  return err;
}
