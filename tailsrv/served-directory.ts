// The files `log-service tailsrv --dir DIR` serves (docs/TAILSRV.md §3):
// regular files under DIR, hidden files and folders excluded, `.ignore` files
// honoured. `list` walks the tree; `stream <path>` resolves one path and
// refuses, with a reason, what is outside DIR (`..`, an absolute path, a
// symlink that leads out), hidden, ignored, missing or not a regular file.
import type { Dirent } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, posix, relative, sep } from 'node:path';
import { childPath, IgnoreRules } from './ignore-rules.ts';

/** A path the client may not stream; `message` is the reason for its `error:` line. */
export class RefusedPath extends Error {}

export class ServedDirectory {
  private constructor(
    /** The directory's real path (symlinks resolved): what "inside DIR" is measured against. */
    readonly root: string,
  ) {}

  static async open(dir: string): Promise<ServedDirectory> {
    const root = await realpath(dir);
    if (!(await stat(root)).isDirectory()) throw new Error(`${dir} is not a directory`);
    return new ServedDirectory(root);
  }

  /**
   * Every streamable file, '/'-separated and relative to DIR, sorted. Symlinks
   * are not listed (a listed path is one the walk saw as a regular file) and
   * not followed, so a link cycle cannot make the walk endless.
   */
  async list(): Promise<string[]> {
    const rules = new IgnoreRules(this.root);
    const found: string[] = [];
    const walk = async (directory: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await readdir(join(this.root, directory), { withFileTypes: true });
      } catch {
        return; // removed or unreadable while we walked: nothing to list there
      }
      for (const entry of entries) {
        if (entry.name.startsWith('.') || !headerSafe(entry.name)) continue;
        const path = childPath(directory, entry.name);
        if (entry.isDirectory()) {
          if (!(await rules.ignores(path, true))) await walk(path);
        } else if (entry.isFile() && !(await rules.ignores(path, false))) {
          found.push(path);
        }
      }
    };
    await walk('');
    return found.sort();
  }

  /** The real path of a streamable file; throws RefusedPath with the reason otherwise. */
  async resolve(requested: string): Promise<string> {
    if (requested.includes('\0')) throw new RefusedPath('the path contains a NUL byte');
    if (isAbsolute(requested)) throw new RefusedPath(`${requested} is outside the served directory: paths are relative to it`);
    const normal = posix.normalize(requested);
    if (normal === '..' || normal.startsWith('../')) throw new RefusedPath(`${requested} is outside the served directory`);
    await this.check(normal.replace(/\/+$/, ''), requested);
    let real: string;
    try {
      real = await realpath(join(this.root, normal));
    } catch {
      throw new RefusedPath(`no such file: ${requested}`);
    }
    const inside = relative(this.root, real);
    if (inside === '' || inside.startsWith(`..${sep}`) || inside === '..' || isAbsolute(inside)) {
      throw new RefusedPath(`${requested} is outside the served directory (a symlink leads out of it)`);
    }
    // A symlink inside DIR must not reach what DIR hides: its target is checked too.
    await this.check(inside.split(sep).join('/'), requested);
    const info = await stat(real).catch(() => undefined);
    if (info === undefined) throw new RefusedPath(`no such file: ${requested}`);
    if (!info.isFile()) throw new RefusedPath(`${requested} is not a regular file`);
    return real;
  }

  private async check(path: string, requested: string): Promise<void> {
    if (path === '' || path === '.') throw new RefusedPath(`${requested === '' ? '(empty)' : requested} is not a regular file`);
    if (path.split('/').some((segment) => segment.startsWith('.'))) throw new RefusedPath(`${requested} is hidden (a name starting with ".")`);
    if (await new IgnoreRules(this.root).ignores(path, false)) throw new RefusedPath(`${requested} is ignored by a .ignore file`);
  }
}

/**
 * A name a client can ask for: `list` answers one name a line and the header is one trimmed
 * line, so a name with a control character (a newline would forge a second entry) or with
 * leading or trailing whitespace could never be streamed, and is not listed.
 */
function headerSafe(name: string): boolean {
  // eslint-disable-next-line no-control-regex
  return !/[\x00-\x1f\x7f]/.test(name) && name.trim() === name;
}
