// The Range header of the raw view (docs/PROTOCOL.md §7.1): RFC 9110 byte
// ranges over the log's text. A finished log (or a closed stream) has a known
// length and is a blob like any other (byte-range.ts). A live log grows: a
// closed range `a-b` is served once its bytes exist (the response waits for
// them), `-n` is the last n bytes there are now, and `a-` follows the log
// from a (200 with X-Log-Offset, as ?offset=a: no Content-Range can describe
// an end that does not exist yet).
import { ServiceError } from '../foundation/errors.ts';
import { parseRange } from './byte-range.ts';

const ONE_RANGE = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i;

export type RawRange =
  /** No usable Range (absent, another unit, several ranges, malformed): the raw tail from `offset`. */
  | { kind: 'follow'; offset: number }
  /** 206: the bytes [start, stopAt), then the end. */
  | { kind: 'range'; start: number; stopAt: number; contentRange: string; contentLength?: number };

/** `length`: the text's length now; `live`: it may grow. `offset`: ?offset=, used when there is no range. */
export function rawRange(header: string | undefined, length: number, live: boolean, offset: number): RawRange {
  if (!live) {
    const range = parseRange(header, length);
    if (range === undefined) return { kind: 'follow', offset };
    const contentLength = range.end - range.start + 1;
    return { kind: 'range', start: range.start, stopAt: range.end + 1, contentRange: `bytes ${range.start}-${range.end}/${length}`, contentLength };
  }
  const m = header === undefined ? null : ONE_RANGE.exec(header);
  if (m === null) return { kind: 'follow', offset };
  const [, first, last] = m as unknown as [string, string, string];
  if (first === '' && last === '') return { kind: 'follow', offset };
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) throw unsatisfiable(length);
    if (length === 0) return { kind: 'follow', offset };
    const start = Math.max(0, length - suffix);
    return { kind: 'range', start, stopAt: length, contentRange: `bytes ${start}-${length - 1}/*` };
  }
  const start = Number(first);
  if (!Number.isSafeInteger(start)) throw unsatisfiable(length);
  if (last === '') return { kind: 'follow', offset: start };
  if (BigInt(last) < BigInt(first)) return { kind: 'follow', offset };
  const end = Number(last);
  return { kind: 'range', start, stopAt: end + 1, contentRange: `bytes ${start}-${end}/*` };
}

function unsatisfiable(size: number): ServiceError {
  const err = new ServiceError('LOGSVC_RANGE_NOT_SATISFIABLE', `the range is outside the log's text (${size} bytes)`);
  (err as ServiceError & { size?: number }).size = size;
  return err;
}
