// The log a step page shows, held compactly enough for a 1,000,000-line log
// (docs/VIEWER.md §3): one string per row and typed arrays for the rest, grown
// by doubling. Rows are lines, `dropped` markers and section markers; the
// rows the view shows (levels filtered, sections collapsed) are a second,
// incrementally extended list. Pure logic: no DOM, tested under Node.
import { collapseCarriageReturns } from './carriage-return.ts';
import { lowerBound } from './lower-bound.ts';
import { parseSectionMarker } from './sections.ts';

/** What a row is. */
const ROW_LINE = 0;
/** A `dropped` event: lines the server no longer had. Always shown. */
export const ROW_DROPPED = 1;
/** A section's end marker (`section_end:`, `::endgroup::`): never shown, like GitLab and GitHub. */
const ROW_HIDDEN = 2;

/** One line as the SSE tail sends it (docs/PROTOCOL.md §4.1). */
export interface TailLine {
  seq: number;
  out: string;
  level?: string;
  time?: string;
}

export interface Section {
  id: number;
  /** GitLab's section name (matched by its end marker); GitHub's title. */
  name: string;
  title: string;
  /** The row of its start marker: the header the view shows. */
  headerRow: number;
  /** The row of its end marker; -1 while open. */
  endRow: number;
  /** Milliseconds from start to end (GitLab's marker timestamps, else the lines' times); undefined while open or unknown. */
  durationMs?: number;
  startMs: number;
  depth: number;
  /** The enclosing section, or -1. */
  parent: number;
  /** Folded when it appears (GitLab's `[collapsed=true]`). */
  startsCollapsed: boolean;
}

export interface ViewFilter {
  /** Level indexes (levelNames) hidden; empty: all shown. */
  hiddenLevels: ReadonlySet<number>;
  /** Section ids collapsed. */
  collapsed: ReadonlySet<number>;
}

export class LogModel {
  /** Rows, markers included. */
  count = 0;
  /** Log lines taken (rows that are not `dropped` markers). */
  lines = 0;
  readonly texts: string[] = [];
  seqs = new Float64Array(1024);
  times = new Float64Array(1024);
  levels = new Uint8Array(1024);
  kinds = new Uint8Array(1024);
  /** The innermost section a row is inside (a header row: its enclosing one); -1 for none. */
  sectionOf = new Int32Array(1024);
  readonly sections: Section[] = [];
  /** The section each header row starts, by row: found at once for every rendered row. */
  private readonly headers = new Map<number, Section>();
  readonly levelNames: string[] = [];
  private readonly levelIndex = new Map<string, number>();
  private readonly open: number[] = [];
  /** The rows shown under `filter`, extended as rows arrive; rebuilt when the filter changes. */
  visible = new Int32Array(1024);
  visibleCount = 0;
  private filter: ViewFilter = { hiddenLevels: new Set(), collapsed: new Set() };
  /** The seq of the last line taken (a resumed tail's replays are dropped); -1 before any. */
  lastSeq = -1;

  /** Appends a line; false (and nothing changes) for a seq already taken. */
  appendLine(line: TailLine): boolean {
    if (line.seq <= this.lastSeq) return false;
    this.lastSeq = line.seq;
    this.lines++;
    const time = line.time === undefined ? NaN : Date.parse(line.time);
    let text = line.out.endsWith('\n') ? line.out.slice(0, line.out.endsWith('\r\n') ? -2 : -1) : line.out;
    const row = this.count;
    const marker = parseSectionMarker(text);
    let kind = ROW_LINE;
    let sectionOf = this.open.length > 0 ? this.open[this.open.length - 1]! : -1;
    if (marker?.kind === 'start') {
      const id = this.sections.length;
      this.sections.push({
        id,
        name: marker.name,
        title: marker.title,
        headerRow: row,
        endRow: -1,
        startMs: marker.atMs ?? time,
        depth: this.open.length,
        parent: sectionOf,
        startsCollapsed: marker.collapsed === true,
      });
      this.open.push(id);
      this.headers.set(row, this.sections[id]!);
      text = marker.title;
    } else if (marker?.kind === 'end') {
      // GitLab names the section it ends; GitHub's ::endgroup:: ends the innermost.
      const at = marker.name === undefined ? this.open.length - 1 : this.open.findLastIndex((id) => this.sections[id]!.name === marker.name);
      if (at >= 0) {
        for (const id of this.open.splice(at)) {
          const section = this.sections[id]!;
          section.endRow = row;
          const endMs = marker.atMs ?? time;
          if (Number.isFinite(endMs) && Number.isFinite(section.startMs)) section.durationMs = Math.max(0, endMs - section.startMs);
        }
      }
      kind = marker.rest.length > 0 ? ROW_LINE : ROW_HIDDEN;
      text = marker.rest;
      sectionOf = this.open.length > 0 ? this.open[this.open.length - 1]! : -1;
    }
    this.push(collapseCarriageReturns(text), line.seq, time, this.levelOf(line.level ?? 'info'), kind, sectionOf);
    return true;
  }

  /** Appends the marker of a `dropped` event (inclusive seqs). */
  appendDropped(from: number, to: number): void {
    const lost = to - from + 1;
    const text = `${lost} line${lost === 1 ? '' : 's'} (${from + 1}–${to + 1}) were lost: the server no longer kept them (this viewer fell behind, or they were trimmed before it joined)`;
    this.push(text, from, NaN, this.levelOf('info'), ROW_DROPPED, this.open.length > 0 ? this.open[this.open.length - 1]! : -1);
    if (to > this.lastSeq) this.lastSeq = to;
  }

  /** Everything goes (a reopened stream starts again at seq 0). */
  clear(): void {
    this.count = 0;
    this.lines = 0;
    this.texts.length = 0;
    this.sections.length = 0;
    this.headers.clear();
    this.open.length = 0;
    this.visibleCount = 0;
    this.lastSeq = -1;
  }

  /** The row holding line `seq` (or the first after it); count when there is none. */
  rowOfSeq(seq: number): number {
    return lowerBound(this.seqs, this.count, seq);
  }

  /** The index in `visible` of `row`, or of the nearest shown row after it. */
  visibleIndexOf(row: number): number {
    return lowerBound(this.visible, this.visibleCount, row);
  }

  setFilter(filter: ViewFilter): void {
    this.filter = filter;
    this.visibleCount = 0;
    for (let row = 0; row < this.count; row++) this.addVisible(row);
  }

  /** True when `row` is shown under the current filter. */
  isShown(row: number): boolean {
    const kind = this.kinds[row]!;
    if (kind === ROW_HIDDEN) return false;
    if (kind === ROW_LINE && this.filter.hiddenLevels.has(this.levels[row]!)) return false;
    for (let s = this.sectionOf[row]!; s !== -1; s = this.sections[s]!.parent) if (this.filter.collapsed.has(s)) return false;
    return true;
  }

  /** True for a row of the log's text (not a `dropped` marker, not a section's end marker). */
  isText(row: number): boolean {
    return this.kinds[row] === ROW_LINE;
  }

  /** The section whose header `row` is, or undefined. */
  sectionHeadedBy(row: number): Section | undefined {
    return this.headers.get(row);
  }

  private levelOf(name: string): number {
    let index = this.levelIndex.get(name);
    if (index === undefined) {
      index = Math.min(this.levelNames.length, 255);
      if (index < 255) {
        this.levelNames.push(name);
        this.levelIndex.set(name, index);
      }
    }
    return index;
  }

  private push(text: string, seq: number, time: number, level: number, kind: number, sectionOf: number): void {
    const row = this.count;
    if (row === this.seqs.length) this.grow();
    this.texts[row] = text;
    this.seqs[row] = seq;
    this.times[row] = time;
    this.levels[row] = level;
    this.kinds[row] = kind;
    this.sectionOf[row] = sectionOf;
    this.count = row + 1;
    this.addVisible(row);
  }

  private addVisible(row: number): void {
    if (!this.isShown(row)) return;
    if (this.visibleCount === this.visible.length) this.visible = grown(this.visible);
    this.visible[this.visibleCount++] = row;
  }

  private grow(): void {
    this.seqs = grown(this.seqs);
    this.times = grown(this.times);
    this.levels = grown(this.levels);
    this.kinds = grown(this.kinds);
    this.sectionOf = grown(this.sectionOf);
  }
}

type Growable = Float64Array | Uint8Array | Int32Array;

function grown<T extends Growable>(array: T): T {
  const next = new (array.constructor as new (length: number) => T)(array.length * 2);
  next.set(array);
  return next;
}
