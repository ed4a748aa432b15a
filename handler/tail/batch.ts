// How much a tail moves at once (docs/ARCHITECTURE.md, "The tail pipeline").
// A viewer that stops reading holds at most one batch plus its socket buffer,
// so these bound the memory of every stalled viewer, whatever it tails.

/** Lines a live tail reads from its cursor per batch. */
export const TAIL_BATCH_LINES = 2000;
/** About this many bytes per live batch (the cursor stops at the line that passes it). */
export const TAIL_BATCH_BYTES = 256 * 1024;
/** Rows of a snapshot blob per write (a blob-served tail). */
export const SNAPSHOT_BATCH_ROWS = 500;
/** Characters of a snapshot blob's SSE events per write (UTF-16 units; at most 3 bytes each on the wire). */
export const SNAPSHOT_BATCH_CHARS = 256 * 1024;
