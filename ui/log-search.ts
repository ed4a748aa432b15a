// Find in log (docs/VIEWER.md §5): every match over the whole log, not only
// the rendered rows, computed a slice of rows at a time so a 1,000,000-line
// log never blocks the page, and extended as live rows arrive. Pure logic:
// the caller decides when the next slice runs.
import type { LogModel } from './log-model.ts';
import { lowerBound } from './lower-bound.ts';
import { plainText } from './plain-text.ts';

export interface SearchQuery {
  text: string;
  regex: boolean;
  caseSensitive: boolean;
}

/** Rows searched per slice: ~10 ms of work on this machine for 100-byte rows. */
const SLICE_ROWS = 20_000;
/** Matches kept; past it the count is still exact, navigation stops at the last kept. */
const MAX_KEPT_MATCHES = 1_000_000;

/** A query that cannot run (a bad regular expression): the message says why. */
export class SearchError extends Error {}

export function compileQuery(query: SearchQuery): RegExp | undefined {
  if (query.text === '') return undefined;
  const flags = query.caseSensitive ? 'g' : 'gi';
  if (!query.regex) return new RegExp(query.text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), flags);
  try {
    return new RegExp(query.text, flags);
  } catch (err) {
    throw new SearchError((err as Error).message);
  }
}

/** The [start, end) ranges of `pattern` in `text`; an empty match is skipped. */
export function matchRanges(pattern: RegExp, text: string): [number, number][] {
  const ranges: [number, number][] = [];
  pattern.lastIndex = 0;
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
    if (m[0].length === 0) {
      pattern.lastIndex++;
      continue;
    }
    ranges.push([m.index, m.index + m[0].length]);
  }
  return ranges;
}

export class LogSearch {
  /** The row of every match, in order (a row with three matches is here three times). */
  matchRows = new Int32Array(1024);
  kept = 0;
  total = 0;
  /** Rows searched so far. */
  searched = 0;

  constructor(
    private readonly model: LogModel,
    readonly pattern: RegExp,
  ) {}

  /** True while rows remain to be searched. */
  get pending(): boolean {
    return this.searched < this.model.count;
  }

  /** Starts over (the model was cleared: a reopened stream). */
  reset(): void {
    this.kept = 0;
    this.total = 0;
    this.searched = 0;
  }

  /** Searches the next slice of rows. */
  step(): void {
    const end = Math.min(this.model.count, this.searched + SLICE_ROWS);
    for (let row = this.searched; row < end; row++) {
      if (!this.model.isText(row)) continue; // a dropped marker's words are not the log's
      const count = matchRanges(this.pattern, plainText(this.model.texts[row]!)).length;
      for (let i = 0; i < count; i++) this.keep(row);
      this.total += count;
    }
    this.searched = end;
  }

  /** The first match at or after `row`, or -1. */
  firstFrom(row: number): number {
    const index = lowerBound(this.matchRows, this.kept, row);
    return index < this.kept ? index : -1;
  }

  /** Which of its row's matches match `index` is (0: the row's first). */
  occurrence(index: number): number {
    const row = this.matchRows[index]!;
    let first = index;
    while (first > 0 && this.matchRows[first - 1] === row) first--;
    return index - first;
  }

  private keep(row: number): void {
    if (this.kept === MAX_KEPT_MATCHES) return;
    if (this.kept === this.matchRows.length) {
      const next = new Int32Array(this.matchRows.length * 2);
      next.set(this.matchRows);
      this.matchRows = next;
    }
    this.matchRows[this.kept++] = row;
  }
}
