// `.ignore` files with gitignore syntax (docs/TAILSRV.md §3), matched by the
// maintained `ignore` package (the rules of gitignore(5), negation included),
// not by a glob matcher of our own. Every directory may hold a `.ignore`; its
// patterns are relative to that directory. The nearest file that decides wins
// (a deeper `!keep.log` re-includes what a shallower `*.log` excluded), and, as
// in git, nothing under an ignored directory can be re-included.
//
// The files are read per request (a `list`, a `stream`), so an edited
// `.ignore` applies to the next connection without a restart.
import { readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import ignore, { type Ignore } from 'ignore';

const IGNORE_FILE = '.ignore';

export class IgnoreRules {
  /** Each directory's matcher (null: no `.ignore` there), keyed by its path relative to the root ('' = the root). */
  private readonly matchers = new Map<string, Promise<Ignore | null>>();

  constructor(private readonly root: string) {}

  /** Whether `relative` (a '/'-separated path under the root) is ignored, or lies under an ignored directory. */
  async ignores(relative: string, isDirectory: boolean): Promise<boolean> {
    const segments = relative.split('/');
    // Parent directories first: an ignored directory hides everything under it.
    for (let depth = 1; depth < segments.length; depth++) {
      if (await this.decides(segments.slice(0, depth), true)) return true;
    }
    return this.decides(segments, isDirectory);
  }

  /** The nearest `.ignore` that has a rule for the path decides; none: not ignored. */
  private async decides(segments: string[], isDirectory: boolean): Promise<boolean> {
    for (let level = segments.length - 1; level >= 0; level--) {
      const matcher = await this.matcherFor(segments.slice(0, level).join('/'));
      if (matcher === null) continue;
      const path = segments.slice(level).join('/') + (isDirectory ? '/' : '');
      const verdict = matcher.test(path);
      if (verdict.ignored) return true;
      if (verdict.unignored) return false;
    }
    return false;
  }

  private matcherFor(directory: string): Promise<Ignore | null> {
    let matcher = this.matchers.get(directory);
    if (matcher === undefined) {
      matcher = readFile(join(this.root, directory, IGNORE_FILE), 'utf8').then(
        (text) => ignore().add(text),
        () => null,
      );
      this.matchers.set(directory, matcher);
    }
    return matcher;
  }
}

/** `a/b` + `c` → `a/b/c`, for the '/'-separated paths of the protocol. */
export function childPath(directory: string, name: string): string {
  return directory === '' ? name : posix.join(directory, name);
}
