// Validation of one pushed line (docs/PROTOCOL.md §4.1): the Harness line
// shape, bounded fields. Called once per line on the hot path: no closures or
// throwaway objects on the way.
import { ServiceError } from '../foundation/errors.ts';
import type { LineInput } from '../stream/log-stream.ts';

/** `args` are metadata, not log text: kept small so one line cannot carry megabytes. */
const MAX_ARGS_CHARS = 16 * 1024;

function badLine(index: number, why: string): ServiceError {
  return new ServiceError('LOGSVC_INVALID_LINE', `line ${index}: ${why}`);
}

export function checkLine(value: unknown, index: number): LineInput {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw badLine(index, 'expected an object like {"out": "text\\n"}');
  const v = value as Record<string, unknown>;
  if (typeof v.out !== 'string') throw badLine(index, '"out" must be a string');
  const line: LineInput = { out: v.out };
  if (v.level !== undefined) {
    if (typeof v.level !== 'string' || v.level.length > 32) throw badLine(index, '"level" must be a string of at most 32 characters');
    line.level = v.level;
  }
  if (v.pos !== undefined) {
    if (typeof v.pos !== 'number' || !Number.isSafeInteger(v.pos) || v.pos < 0) throw badLine(index, '"pos" must be a non-negative integer');
    line.pos = v.pos;
  }
  if (v.time !== undefined) {
    if (typeof v.time !== 'string' || v.time.length > 64 || !isRfc3339(v.time)) throw badLine(index, '"time" must be an RFC 3339 timestamp');
    line.time = v.time;
  }
  if (v.args !== undefined && v.args !== null) {
    if (typeof v.args !== 'object' || Array.isArray(v.args)) throw badLine(index, '"args" must be an object');
    let encoded: string | undefined;
    try {
      encoded = JSON.stringify(v.args);
    } catch {
      throw badLine(index, '"args" is nested too deeply');
    }
    if (encoded.length > MAX_ARGS_CHARS) throw badLine(index, `"args" is over ${MAX_ARGS_CHARS} characters of JSON`);
    line.args = v.args as Record<string, unknown>;
  }
  return line;
}

/** RFC 3339 §5.6 date-time: full-date "T" full-time, with a real calendar day. */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function isRfc3339(text: string): boolean {
  const m = RFC3339.exec(text);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  return isRealTime(year, month, day, hour, minute, second);
}

/** A real calendar day and time of day (a leap second allowed), for an RFC 3339 timestamp's numbers (also sent-scan.ts). */
export function isRealTime(year: number, month: number, day: number, hour: number, minute: number, second: number): boolean {
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 60) return false;
  // Date.UTC rolls an impossible day (Feb 30) over into the next month.
  return new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day && day >= 1;
}
