// Where a tail starts, from the request: pure parsing, no I/O. SSE tails take
// a line seq (Last-Event-ID, ?from=) or a count (?tail=); raw tails a byte
// offset (?offset=N, or -N for the last N bytes).
import { ServiceError } from '../foundation/errors.ts';
import type { CursorStart } from '../stream/log-stream.ts';

/** The largest seq a tail may start after, and the most lines it may ask for (SSE, gRPC Tail). */
export const MAX_START_SEQ = 999_999_999_999_999;
export const MAX_LAST_LINES = 999_999_999;

/** `Last-Event-ID` (what EventSource sends on reconnect) wins over `?from=`; then `?tail=`. */
export function cursorStart(lastId: string | string[] | undefined, query: URLSearchParams): CursorStart {
  const from = typeof lastId === 'string' && lastId.trim() !== '' ? lastId.trim() : query.get('from');
  if (from !== null && from !== '') {
    if (!/^\d{1,15}$/.test(from)) throw new ServiceError('LOGSVC_INVALID_PARAM', 'Last-Event-ID / from must be a line seq (a non-negative integer)');
    return { kind: 'after', seq: Number(from) };
  }
  const tail = query.get('tail');
  if (tail !== null && tail !== '') {
    if (!/^\d{1,9}$/.test(tail)) throw new ServiceError('LOGSVC_INVALID_PARAM', 'tail must be a non-negative integer');
    return { kind: 'tail', lines: Number(tail) };
  }
  return { kind: 'beginning' };
}

/** `offset=N` (from byte N) or `offset=-N` (the last N bytes); default 0. */
export function parseOffset(raw: string | null): number {
  if (raw === null || raw === '') return 0;
  if (!/^-?\d{1,15}$/.test(raw)) throw new ServiceError('LOGSVC_INVALID_PARAM', 'offset must be an integer byte offset (negative: from the end)');
  return Number(raw);
}
