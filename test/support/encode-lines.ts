// Pushed lines as line objects, for tests that hold lines rather than blocks
// (the server keeps a push as a block and makes its lines when read).
import { ChunkDraft } from '../../archive/chunk-draft.ts';
import { encodeBlock } from '../../stream/line-codec.ts';
import type { LineInput, StoredLine } from '../../stream/log-stream.ts';

/** The lines encodeBlock makes of `inputs`, as objects. */
export function encodeLines(firstSeq: number, firstOffset: number, inputs: readonly LineInput[], maxLineBytes: number, now: string): StoredLine[] {
  return encodeBlock(firstSeq, firstOffset, inputs, maxLineBytes, now).lines();
}

/** A chunk draft of consecutive `lines`, as the archive writer fills one from a batch. */
export function draftOf(lines: readonly StoredLine[]): ChunkDraft {
  const draft = new ChunkDraft();
  draft.add(lines);
  return draft;
}
