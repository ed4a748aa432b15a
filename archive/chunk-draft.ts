// A chunk the archive writer is filling or has sealed (docs/ARCHIVE.md §3):
// its rows (the lines' JSON, chunk-format.ts), copied as each batch is read,
// and the pushes kept as sent that it holds as they are,
// and the numbers its blob name carries. The writer keeps these bytes, not the
// lines: a line object it held until its chunk was written lived long enough
// for the garbage collector to copy it and mark it again, for every line
// pushed (BENCHMARKS.md, "ingest: a push is one object").
import type { SentPush, StoredLine } from '../stream/log-stream.ts';
import { takeBody } from './chunk-bodies.ts';
import { decodeChunk, encodeChunk, sentRecord, type ChunkEntry, type ChunkPlace } from './chunk-format.ts';

/**
 * What one batch the writer read adds to the body (its rows, or a push kept
 * as sent: chunk-format.ts sentRecord), and where its lines start.
 */
interface Part extends ChunkPlace {
  pieces: Buffer[];
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
    this.addPart({ pieces: [encodeChunk(lines)], firstSeq: first.seq, firstOffset: first.offset, lines: lines.length }, last.offset + last.textBytes);
  }

  /** Adds a push kept as sent, the next lines after those it holds: its body as it is, not its lines. */
  addPush(push: SentPush): void {
    this.addPart({ pieces: sentRecord(push), firstSeq: push.firstSeq, firstOffset: push.firstOffset, lines: push.lines }, push.firstOffset + push.textBytes);
  }

  /** Adds the next part, whose lines' text ends at `textEnd`. */
  private addPart(part: Part, textEnd: number): void {
    if (this.lines === 0) {
      this.firstSeq = part.firstSeq;
      this.firstOffset = part.firstOffset;
    }
    this.parts.push(part);
    for (const piece of part.pieces) this.bytes += piece.length;
    this.lines += part.lines;
    this.textBytes = textEnd - this.firstOffset;
  }

  /** The seq after its last line. */
  get endSeq(): number {
    return this.firstSeq + this.lines;
  }

  /**
   * The chunk's body: its rows and pushes as sent in one buffer (one blob
   * write), from chunk-bodies.ts: give it back (giveBody) once the write has settled.
   */
  body(): Buffer {
    if (this.parts.length === 1 && this.parts[0]!.pieces.length === 1) return this.parts[0]!.pieces[0]!;
    const body = takeBody(this.bytes);
    let at = 0;
    for (const part of this.parts) for (const piece of part.pieces) at += piece.copy(body, at);
    return body;
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
      part.decoded ??= decodeChunk(part, part.pieces.length === 1 ? part.pieces[0]! : Buffer.concat(part.pieces));
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
