// Where a stream's lines go on disk and what a rotated file is called
// (docs/SCRIBE.md §3). go-scribe wrote `<root>/<path>/<filename>.log` and renamed
// a full file to `<filename>_<DDMMYYYYhhmmss>.log` (layout "02012006150405").
import { join } from 'node:path';
import { ServiceError } from '../foundation/errors.ts';

/** The account go-scribe producers land in (no token, or the global token): its files keep go-scribe's layout. */
const DEFAULT_ACCOUNT = 'default';

/**
 * The longest key segment that still makes a file name: NAME_MAX is 255 bytes
 * on Linux, macOS and Windows file systems, and a rotated name adds
 * `_DDMMYYYYhhmmss_NNN.log` (23 bytes) to the last segment.
 */
const MAX_FILE_SEGMENT_BYTES = 200;

/** Throws LOGSVC_INVALID_KEY when a (validated) key has a segment too long to be a file name. */
export function checkFileSegments(key: string): void {
  for (const segment of key.split('/')) {
    if (Buffer.byteLength(segment, 'utf8') > MAX_FILE_SEGMENT_BYTES) {
      throw new ServiceError('LOGSVC_INVALID_KEY', `each "/"-separated part of the name must be at most ${MAX_FILE_SEGMENT_BYTES} bytes to be a file name`);
    }
  }
}

/**
 * The live file of stream `name` (`<account>/<key>`, already validated) without
 * its `.log`: `DIR/<key>` for the default account (go-scribe's own layout), and
 * `DIR/@<account>/<key>` for every other account, so two accounts never write
 * one file. A default-account key whose first segment starts with "@" goes under
 * `DIR/@default/` too: account ids cannot contain "@", so the mapping stays
 * one-to-one.
 */
export function fileBase(dir: string, name: string): string {
  const slash = name.indexOf('/');
  const account = name.slice(0, slash);
  const key = name.slice(slash + 1);
  if (account === DEFAULT_ACCOUNT && !key.startsWith('@')) return join(dir, key);
  return join(dir, `@${account}`, key);
}

/** DDMMYYYYhhmmss in UTC (go-scribe's layout "02012006150405"; UTC so a DST change cannot reorder names). */
export function rotationStamp(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    two(date.getUTCDate()) +
    two(date.getUTCMonth() + 1) +
    String(date.getUTCFullYear()).padStart(4, '0') +
    two(date.getUTCHours()) +
    two(date.getUTCMinutes()) +
    two(date.getUTCSeconds())
  );
}

/**
 * The n-th candidate name for a rotated file: `<base>_<stamp>.log`, then
 * `<base>_<stamp>_1.log`, `_2`, … for further rotations within the same second
 * (go-scribe overwrote the earlier file; here it is never overwritten).
 */
export function rotatedPath(base: string, stamp: string, n: number): string {
  return n === 0 ? `${base}_${stamp}.log` : `${base}_${stamp}_${n}.log`;
}

/** A line as it is written to the file: its text with exactly one trailing newline ("\r\n" keeps its "\r"). */
export function fileLine(out: string): Buffer {
  return Buffer.from(oneLine(out), 'utf8');
}

/** `out` with exactly one trailing newline (go-scribe's lines, in the stream and in the file). */
export function oneLine(out: string): string {
  let end = out.length;
  while (end > 0 && out.charCodeAt(end - 1) === 10) end--;
  return `${end === out.length ? out : out.slice(0, end)}\n`;
}
