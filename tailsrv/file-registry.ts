// The files being tailed, one WatchedFile per path however many clients
// follow it (docs/TAILSRV.md §5). A file is opened by its first client and
// closed after its last one leaves. Once the path stops naming it (deleted,
// moved, replaced), the next client of that path gets a fresh one: the old
// file stays with its own clients until they are done.
import { WatchedFile } from './watched-file.ts';

interface Entry {
  users: number;
  file: Promise<WatchedFile>;
}

export interface FileLease {
  file: WatchedFile;
  /** Gives the file back; the last lease closes it. Idempotent. */
  release(): void;
}

export class FileRegistry {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly linger: boolean,
    /** Called when a file in the registry is gone (deleted, moved, replaced). */
    private readonly onGone: (path: string) => void = () => {},
  ) {}

  /** The file at `path`: 'open' needs it to exist now (rejects otherwise); 'await' waits for it to appear. */
  async acquire(path: string, mode: 'open' | 'await'): Promise<FileLease> {
    let entry = this.entries.get(path);
    // The watcher learns of a move or replacement a moment after it happens; a client that
    // connects in between must get what the path names now, not the file that was there.
    if (entry !== undefined && !(await namesPathNow(entry))) {
      if (this.entries.get(path) === entry) this.entries.delete(path);
      entry = this.entries.get(path);
    }
    if (entry === undefined) {
      const options = {
        linger: this.linger,
        onGone: () => {
          if (this.entries.get(path) === created) this.entries.delete(path);
          this.onGone(path);
        },
      };
      const created: Entry = { users: 0, file: mode === 'open' ? WatchedFile.open(path, options) : Promise.resolve(WatchedFile.awaiting(path, options)) };
      // A failed open is not kept: the next client tries again.
      created.file.catch(() => {
        if (this.entries.get(path) === created) this.entries.delete(path);
      });
      this.entries.set(path, created);
      entry = created;
    }
    const held = entry;
    held.users++;
    let released = false;
    const release = (file?: WatchedFile) => {
      if (released) return;
      released = true;
      held.users--;
      if (held.users > 0) return;
      if (this.entries.get(path) === held) this.entries.delete(path);
      file?.close();
    };
    let file: WatchedFile;
    try {
      file = await held.file;
    } catch (err) {
      release();
      throw err;
    }
    return { file, release: () => release(file) };
  }

  /** Closes every file (the server stops). */
  async closeAll(): Promise<void> {
    const entries = [...this.entries.values()];
    this.entries.clear();
    for (const entry of entries) (await entry.file.catch(() => undefined))?.close();
  }
}

async function namesPathNow(entry: Entry): Promise<boolean> {
  const file = await entry.file.catch(() => undefined);
  return file === undefined || file.state !== 'open' || (await file.stillAtPath());
}
