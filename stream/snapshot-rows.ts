// A log as snapshot rows (docs/PROTOCOL.md, "Snapshots"): NDJSON of its lines'
// JSON, in pieces that say which lines they hold, for writing the finished
// log. The live archive's chunks are such rows already (docs/ARCHIVE.md §2),
// so ArchivedLogStream hands them over as stored; lines still in memory are
// turned into rows here.
import { lineJson } from './line-codec.ts';
import type { StoredLine } from './log-stream.ts';

/** Consecutive lines of a log as snapshot rows. */
export interface SnapshotRows {
  /** The lines' JSON, one per row, each row ending in "\n". */
  rows: Buffer;
  firstSeq: number;
  /** How many lines (rows) `rows` holds. */
  lines: number;
  /** The text offset of the first line. */
  firstOffset: number;
}

/** Rows are gathered into pieces of about this size: one write each, whatever the lines' size. */
const PIECE_BYTES = 64 * 1024;

/**
 * `lines` as snapshot rows, in pieces of about 64 KiB. A piece holds
 * consecutive seqs only: a gap in `lines` starts a new piece.
 */
export async function* rowsOf(lines: AsyncIterable<StoredLine>): AsyncGenerator<SnapshotRows> {
  const newline = Buffer.from('\n');
  let parts: Buffer[] = [];
  let size = 0;
  let first: StoredLine | undefined;
  let count = 0;
  const piece = (): SnapshotRows => ({ rows: Buffer.concat(parts, size), firstSeq: first!.seq, lines: count, firstOffset: first!.offset });
  for await (const line of lines) {
    if (first !== undefined && line.seq !== first.seq + count) {
      yield piece();
      parts = [];
      size = 0;
      first = undefined;
      count = 0;
    }
    first ??= line;
    const json = lineJson(line);
    parts.push(json, newline);
    size += json.length + 1;
    count++;
    if (size >= PIECE_BYTES) {
      yield piece();
      parts = [];
      size = 0;
      first = undefined;
      count = 0;
    }
  }
  if (count > 0) yield piece();
}
