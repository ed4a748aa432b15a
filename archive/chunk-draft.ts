// A chunk the archive writer is filling or has sealed (docs/ARCHIVE.md §3):
// its rows (the lines' JSON, chunk-format.ts), copied as each batch is read,
// and the numbers its blob name carries. The writer keeps these bytes, not the
// lines: a line object it held until its chunk was written lived long enough
// for the garbage collector to copy it and mark it again, for every line
// pushed (BENCHMARKS.md, "ingest: a push is one object").
import type { StoredLine } from '../stream/log-stream.ts';
import { decodeChunk, encodeChunk, type ChunkEntry, type ChunkPlace } from './chunk-format.ts';

/** The rows of one batch the writer read: a part of the draft, and where its lines start. */
interface Part extends ChunkPlace {
  rows: Buffer;
  /** Its rows read back as lines, for readers of lines not yet written; made at most once. */
  decoded?: StoredLine[];
}

export class ChunkDraft {
  private readonly parts: Part[] = [];
  /** The rows' bytes. */
  bytes = 0;
  firstSeq = 0;
  lines = 0;
  firstOffset = 0;
  textBytes = 0;

  /** Adds consecutive lines, the next after those it holds. */
  add(lines: readonly StoredLine[]): void {
    if (lines.length === 0) return;
    const first = lines[0]!;
    const last = lines[lines.length - 1]!;
    if (this.lines === 0) {
      this.firstSeq = first.seq;
      this.firstOffset = first.offset;
    }
    const rows = encodeChunk(lines);
    this.parts.push({ rows, firstSeq: first.seq, firstOffset: first.offset, lines: lines.length });
    this.bytes += rows.length;
    this.lines += lines.length;
    this.textBytes = last.offset + last.textBytes - this.firstOffset;
  }

  /** The seq after its last line. */
  get endSeq(): number {
    return this.firstSeq + this.lines;
  }

  /** The chunk's body: its rows in one buffer (one blob write). */
  body(): Buffer {
    return this.parts.length === 1
      ? this.parts[0]!.rows
      : Buffer.concat(
          this.parts.map((part) => part.rows),
          this.bytes,
        );
  }

  /**
   * Lines from `seq` (inside the draft: firstSeq ≤ seq < endSeq) up to
   * `toSeq` (inclusive), at most `maxLines`. Each batch of rows is read back once, when a reader first
   * asks, and its lines are shared by every reader.
   */
  slice(seq: number, toSeq: number, maxLines: number): StoredLine[] {
    const end = Math.min(toSeq + 1, seq + maxLines, this.endSeq);
    const lines: StoredLine[] = [];
    for (const part of this.parts) {
      const partEnd = part.firstSeq + part.lines;
      if (partEnd <= seq) continue;
      if (part.firstSeq >= end) break;
      part.decoded ??= decodeChunk(part, part.rows);
      const from = Math.max(seq, part.firstSeq) - part.firstSeq;
      const to = Math.min(end, partEnd) - part.firstSeq;
      for (let i = from; i < to; i++) lines.push(part.decoded[i]!);
    }
    return lines;
  }

  /** Its entry in the archive's index under `blob`. */
  entry(blob: string, gen: number): ChunkEntry {
    return { blob, gen, firstSeq: this.firstSeq, lines: this.lines, firstOffset: this.firstOffset, textBytes: this.textBytes };
  }
}
