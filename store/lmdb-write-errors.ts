// How LMDB write failures reach the error catalogue (docs/BACKENDS.md §4, "A full
// disk"). lmdb-js commits asynchronously: a failed commit rejects every write
// promise of its transaction with "Commit failed", whose `commitError` is a
// second promise, rejected with the system error (ENOSPC, EIO, …), that no one
// else handles: left alone it is an unhandled rejection and ends the process.
// Every LMDB write the store awaits goes through `lmdbWrite`, which handles
// that second promise at once; `describeWriteFailure` then says what happened.
import { constants } from 'node:os';
import { statfs } from 'node:fs/promises';
import { isServiceError, ServiceError } from '../foundation/errors.ts';

const { ENOSPC, EDQUOT, EFBIG, EIO } = constants.errno;
/** LMDB's own "the map is full" (lmdb-js grows the map by itself, so only a hard limit ends here). */
const MDB_MAP_FULL = -30792;
const FULL_CODES = new Set<number | string>([ENOSPC, EDQUOT, EFBIG, MDB_MAP_FULL, 'ENOSPC', 'EDQUOT', 'EFBIG']);
/**
 * A full disk also shows as EIO (LMDB spilling dirty pages of a large
 * transaction) or as a commit failure whose cause never arrives: with less
 * than this free on the store's filesystem, such a failure is "full".
 */
const NEARLY_FULL_BYTES = 16 * 1024 * 1024;
/** How long to wait for a failed commit's cause (it is normally already there). */
const CAUSE_WAIT_MS = 200;

interface CommitFailure {
  commitError?: PromiseLike<unknown> & { catch?: (onRejected: (reason: unknown) => unknown) => unknown };
}

/** Marks a failed commit's `commitError` as handled (see the file comment). */
function quiet(err: unknown): void {
  const commitError = (err as CommitFailure | null)?.commitError;
  if (commitError !== undefined && typeof commitError.catch === 'function') commitError.catch(() => {});
}

/** An LMDB write (put, transaction, flushed) whose failure never goes unhandled. */
export function lmdbWrite<T>(write: PromiseLike<T>): Promise<T> {
  return Promise.resolve(write).catch((err: unknown) => {
    quiet(err);
    throw err;
  });
}

/** Runs a synchronous LMDB write (putSync, transactionSync); its errors are thrown as they are. */
export function lmdbWriteSync<T>(write: () => T): T {
  try {
    return write();
  } catch (err) {
    quiet(err);
    throw err;
  }
}

/** The system error behind a failed write: the commit's cause when it has one. */
async function causeOf(err: unknown): Promise<unknown> {
  const commitError = (err as CommitFailure | null)?.commitError;
  if (commitError === undefined) return err;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<unknown>((resolve) => {
    timer = setTimeout(() => resolve(err), CAUSE_WAIT_MS);
  });
  try {
    return await Promise.race([
      Promise.resolve(commitError).then(
        () => err,
        (cause: unknown) => cause,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function codeOf(err: unknown): number | string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' || typeof code === 'string' ? code : undefined;
}

/** Free bytes for an unprivileged writer on the filesystem holding `dir`, or undefined when unknown. */
async function freeBytes(dir: string): Promise<number | undefined> {
  try {
    const stats = await statfs(dir);
    return stats.bavail * stats.bsize;
  } catch {
    return undefined;
  }
}

/**
 * A failed LMDB write as the caller should see it: 507 LOGSVC_STORAGE_FULL
 * when the disk (or quota, or map) is full; catalogue errors as they are; any
 * other failure unchanged (it becomes a logged 500).
 */
export async function describeWriteFailure(err: unknown, dir: string): Promise<unknown> {
  if (isServiceError(err)) return err;
  const cause = await causeOf(err);
  const code = codeOf(cause);
  if (code !== undefined && FULL_CODES.has(code)) {
    return new ServiceError('LOGSVC_STORAGE_FULL', `the blob store's disk is full (${String(code)}); nothing was stored`, { cause });
  }
  const commitFailed = cause === err && (err as CommitFailure | null)?.commitError !== undefined;
  if (code === EIO || code === 'EIO' || commitFailed) {
    const free = await freeBytes(dir);
    if (free !== undefined && free < NEARLY_FULL_BYTES) {
      return new ServiceError('LOGSVC_STORAGE_FULL', `the blob store's disk is full (${free} bytes free); nothing was stored`, { cause });
    }
  }
  if (cause !== err && cause instanceof Error && err instanceof Error) err.cause ??= cause;
  return err;
}
