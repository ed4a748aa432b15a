// A go-scribe Log's path and filename as a stream key (docs/SCRIBE.md §2):
// `<path>/<filename>`, which is also the file `<dir>/<path>/<filename>.log`.
// go-scribe joined them into a file path unchecked (an empty filename made it
// panic, ".." escaped its root); here every bad name is INVALID_ARGUMENT and
// nothing is written.
import { ServiceError } from '../foundation/errors.ts';
import { validateKey } from '../handler/keys.ts';
import { checkFileSegments } from '../scribe/file-layout.ts';

function bad(message: string): ServiceError {
  return new ServiceError('LOGSVC_INVALID_KEY', message);
}

/**
 * The stream key for a Log call. `path` may hold several "/"-separated
 * directories and may end in "/" (go-scribe's clients often sent "logs/");
 * `filename` is one name. Both are required; neither may be absolute, hold
 * "." or "..", control characters (NUL included) or empty parts; the key is at
 * most 1024 bytes (handler/keys.ts) and each part at most 200 (a file name).
 */
export function scribeKey(path: string | undefined, filename: string | undefined): string {
  if (filename === undefined || filename === '') throw bad('filename is required');
  if (path === undefined || path === '') throw bad('path is required');
  if (filename.includes('/')) throw bad('filename must be one name, without "/" (put directories in path)');
  if (path.startsWith('/')) throw bad('path must be relative to the scribe directory, not absolute');
  const key = validateKey(`${path.replace(/\/+$/, '')}/${filename}`);
  checkFileSegments(key);
  return key;
}
