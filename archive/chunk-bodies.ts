// Buffers for the bodies of chunks being written, lent and given back
// (docs/ARCHIVE.md §3). A fresh buffer for every chunk (hundreds a second
// under a fast push load) was ~3 % of the event loop: its pages faulted in
// anew, and the garbage collector counting it as external memory. Up to 8
// are kept; a body over their size gets a buffer of its own.

/** What a kept buffer holds: a chunk (256 KiB) and a push read past it (≤ 256 KiB, stream/raw-block.ts). */
const BODY_BYTES = 512 * 1024;
/** Kept when given back, at most (4 MiB): the chunk writes a process has in flight at once (archiver.ts FLUSH_CONCURRENCY). */
const KEPT = 8;

const free: ArrayBuffer[] = [];
/** The buffers lent now: only those come back to `free` (weakly held: one never given back is simply collected). */
const lent = new WeakSet<ArrayBuffer>();

/** A buffer of `bytes` bytes (contents undefined) to fill; give it back once nothing reads it. */
export function takeBody(bytes: number): Buffer {
  if (bytes > BODY_BYTES) return Buffer.allocUnsafeSlow(bytes);
  const arrayBuffer = free.pop() ?? Buffer.allocUnsafeSlow(BODY_BYTES).buffer;
  lent.add(arrayBuffer);
  return Buffer.from(arrayBuffer, 0, bytes);
}

/** Gives back a buffer from takeBody (any other buffer is left alone). */
export function giveBody(body: Buffer): void {
  const arrayBuffer = body.buffer as ArrayBuffer;
  if (!lent.delete(arrayBuffer)) return;
  if (free.length < KEPT) free.push(arrayBuffer);
}
