// Slices of a line array that readers woken together share (docs/ARCHITECTURE.md,
// "A wake-up costs one read, shared"): the ring's (LineRing) and a decoded
// archive chunk's (archive/chunk-archive.ts). A slice is kept by its first
// index with the bounds it was asked with, read-only, until its owner drops
// them all (the ring at its next append; a chunk when it is collected).
import type { StoredLine } from './log-stream.ts';

/** The one empty batch: read-only, so every reader may hold it. */
export const NO_LINES: readonly StoredLine[] = Object.freeze([]);

interface KeptSlice {
  maxLines: number;
  maxBytes: number;
  lines: readonly StoredLine[];
}

export class SharedSlices {
  private readonly byFirst = new Map<number, KeptSlice[]>();

  /** `firstsKept`: first indexes kept at most, two bounds each (the viewers' and another reader's, e.g. the archive writer's). */
  constructor(private readonly firstsKept: number) {}

  get(first: number, maxLines: number, maxBytes: number): readonly StoredLine[] | undefined {
    return this.byFirst.get(first)?.find((slice) => slice.maxLines === maxLines && slice.maxBytes === maxBytes)?.lines;
  }

  keep(first: number, maxLines: number, maxBytes: number, lines: readonly StoredLine[]): void {
    const slice = { maxLines, maxBytes, lines };
    const kept = this.byFirst.get(first);
    if (kept !== undefined) {
      // Two bounds at one first index at most: the newest replaces the older.
      if (kept.length >= 2) kept.shift();
      kept.push(slice);
      return;
    }
    if (this.byFirst.size >= this.firstsKept) this.byFirst.delete(this.byFirst.keys().next().value!);
    this.byFirst.set(first, [slice]);
  }

  clear(): void {
    if (this.byFirst.size > 0) this.byFirst.clear();
  }
}

/** The end (exclusive) of a batch of `lines` from `start`, before `stop`, about `maxBytes` of events: the first line always. */
export function batchEnd(lines: readonly StoredLine[], start: number, stop: number, maxBytes: number): number {
  let end = start;
  let total = 0;
  for (; end < stop; end++) {
    const bytes = lines[end]!.eventBytes;
    if (end > start && total + bytes > maxBytes) break;
    total += bytes;
  }
  return end;
}
