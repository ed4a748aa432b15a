// A zip of every blob under a prefix, streamed (POST /blob/download, docs/PROTOCOL.md §2.1).
// yazl writes the archive; each entry's blob is opened only when yazl reaches
// it (addReadStreamLazy), so one blob stream is open at a time, memory stays
// constant and nothing touches the disk.
import type { Readable } from 'node:stream';
import { ServiceError } from '../foundation/errors.ts';
import type { BlobStore } from './blob-store.ts';

export interface ZipOptions {
  /** More blobs than this under the prefix is LOGSVC_TOO_MANY_ENTRIES, before any byte is sent. */
  maxEntries: number;
  /** The prefix as the caller named it, for error messages (default: `prefix` itself). */
  label?: string;
}

/**
 * Resolves once the entries are counted; rejects with LOGSVC_BLOB_NOT_FOUND
 * (nothing under `prefix`) or LOGSVC_TOO_MANY_ENTRIES. Entry names are blob
 * names relative to `prefix`. A blob that vanishes or fails mid-archive errors
 * the returned stream (a zip cannot skip an entry it has started).
 */
export async function zipBlobs(store: BlobStore, prefix: string, options: ZipOptions): Promise<Readable> {
  const names = await zipEntries(store, prefix, options);
  // Loaded on the first zip, not at start (issue 18 §3: the server's memory at rest).
  const { ZipFile } = await import('yazl');
  const zip = new ZipFile();
  const output = zip.outputStream as Readable;
  let current: Readable | undefined;
  zip.on('error', (err: Error) => output.destroy(err));
  // The reader went away: stop the blob being copied, or its socket lingers.
  output.once('close', () => current?.destroy());
  const mtime = new Date();

  for (const name of names) {
    zip.addReadStreamLazy(entryName(name, prefix), { mtime }, (callback) => {
      store
        .get(name)
        .then((blob) => {
          if (output.destroyed) {
            blob?.body.destroy();
            return;
          }
          if (blob === null) throw new ServiceError('LOGSVC_BLOB_NOT_FOUND', `blob "${name}" disappeared while zipping`);
          current = blob.body;
          // yazl does not listen for errors on streams it is handed lazily.
          blob.body.once('error', (err) => output.destroy(err));
          callback(null, blob.body);
        })
        .catch((err: unknown) => output.destroy(err instanceof Error ? err : new Error(String(err))));
    });
  }
  zip.end();
  return output;
}

/**
 * The names of the blobs a zip of `prefix` holds. Rejects with
 * LOGSVC_BLOB_NOT_FOUND (none) or LOGSVC_TOO_MANY_ENTRIES (over the cap). The
 * listing stops at the first blob over the cap: a huge prefix costs at most
 * maxEntries + 1 names, however often it is asked for.
 */
export async function zipEntries(store: BlobStore, prefix: string, options: ZipOptions): Promise<string[]> {
  const names: string[] = [];
  const label = options.label ?? prefix;
  for await (const entry of store.list(prefix)) {
    if (names.length === options.maxEntries) {
      throw new ServiceError(
        'LOGSVC_TOO_MANY_ENTRIES',
        `more than ${options.maxEntries} blobs under the prefix "${label}"; a zip holds at most ${options.maxEntries}`,
      );
    }
    names.push(entry.name);
  }
  if (names.length === 0) throw new ServiceError('LOGSVC_BLOB_NOT_FOUND', `no blobs under the prefix "${label}"`);
  return names;
}

/**
 * The blob's name below the prefix, made acceptable to zip readers: never
 * empty or absolute, no backslashes, and not mistakable for a DOS drive ("c:…"), which yazl
 * (rightly) refuses.
 */
function entryName(name: string, prefix: string): string {
  let relative = name.slice(prefix.length).replace(/^\/+/, '');
  if (relative === '') relative = name.slice(name.lastIndexOf('/') + 1);
  // Zip readers take backslashes as separators (yazl turns them into "/").
  relative = relative.replace(/\\/g, '_');
  if (/^[A-Za-z]:/.test(relative)) relative = `${relative[0]}_${relative.slice(2)}`;
  return relative;
}
