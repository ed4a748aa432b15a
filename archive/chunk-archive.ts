// The archive's chunks in the blob store (docs/ARCHIVE.md §2–3): writing one,
// finding the chunk that holds a seq, reading it, and deleting a generation.
// Shared by every stream and every reader of the process: the index of a
// stream's chunks is one listing, cached and refreshed only when a reader
// asks for a seq past what it knows, and decoded chunks are kept in one LRU
// bounded by bytes, so a hundred late joiners decode each chunk once.
import type { BlobStore } from '../store/blob-store.ts';
import type { StoredLine } from '../stream/log-stream.ts';
import { batchEnd, SharedSlices } from '../stream/shared-slices.ts';
import { giveBody } from './chunk-bodies.ts';
import type { ChunkDraft } from './chunk-draft.ts';
import { chunkName, decodeChunk, generationPrefix, parseChunkName, streamPrefix, type ChunkEntry } from './chunk-format.ts';

/** Decoded chunks kept for readers, across every stream (bytes of their events and texts). */
const DECODED_CACHE_BYTES = 128 * 1024 * 1024;
/** Stream indexes kept (one per stream generation that readers asked about); the oldest goes first. */
const INDEXES_KEPT = 1000;
/** A listing is not repeated sooner than this for the same stream (a reader waiting at the head of the archive). */
const RELIST_MS = 200;
/** Chunks listed per stream generation at most (a 1 GB log is ~4,000 chunks of 256 KiB). */
const MAX_CHUNKS_LISTED = 100_000;

interface StreamIndex {
  entries: ChunkEntry[];
  listedAt: number;
  listing: Promise<void> | undefined;
}

export class ChunkArchive {
  private readonly indexes = new Map<string, StreamIndex>();
  private readonly decoded = new Map<string, { lines: StoredLine[]; bytes: number }>();
  /** Chunks being read and decoded now, by blob name. */
  private readonly loading = new Map<string, Promise<StoredLine[] | undefined>>();
  private decodedBytes = 0;

  constructor(readonly store: BlobStore) {}

  /** Writes a chunk of generation `gen` (its consecutive lines' rows): one blob write. */
  async write(name: string, gen: number, draft: ChunkDraft): Promise<ChunkEntry> {
    const blob = chunkName(name, gen, draft.firstSeq, draft.lines, draft.firstOffset, draft.textBytes);
    const body = draft.body();
    try {
      await this.store.putBytes(blob, body, { contentType: 'application/x-ndjson', durable: false, checksum: false });
    } finally {
      // Settled: the store no longer reads it (BlobStore.putBytes).
      giveBody(body);
    }
    const entry = draft.entry(blob, gen);
    const index = this.indexes.get(indexKey(name, gen));
    if (index !== undefined) insertEntry(index.entries, entry);
    return entry;
  }

  /** The chunks of a generation, in seq order (listed once, then kept up to date by this process's writes). */
  async entries(name: string, gen: number, refresh = false): Promise<ChunkEntry[]> {
    const key = indexKey(name, gen);
    let index = this.indexes.get(key);
    if (index === undefined) {
      index = { entries: [], listedAt: 0, listing: undefined };
      this.indexes.set(key, index);
      if (this.indexes.size > INDEXES_KEPT) this.indexes.delete(this.indexes.keys().next().value!);
      refresh = true;
    } else {
      // Most recently used last.
      this.indexes.delete(key);
      this.indexes.set(key, index);
    }
    if (refresh && Date.now() - index.listedAt >= RELIST_MS) {
      const target = index;
      target.listing ??= (async () => {
        // What the index held before: only chunks added since (this process's writes) are kept over the listing.
        const before = new Set(target.entries);
        try {
          const listed: ChunkEntry[] = [];
          for await (const item of this.store.list(generationPrefix(name, gen))) {
            const entry = parseChunkName(name, item.name);
            if (entry !== undefined && entry.gen === gen) listed.push(entry);
            if (listed.length >= MAX_CHUNKS_LISTED) break;
          }
          // Chunks this process wrote while the listing ran are in the old list, maybe not in this one.
          const seen = new Set(listed.map((entry) => entry.blob));
          const missed = target.entries.filter((entry) => !before.has(entry) && !seen.has(entry.blob));
          if (missed.length > 0) {
            listed.push(...missed);
            listed.sort((a, b) => a.firstSeq - b.firstSeq);
          }
          target.entries = listed;
          target.listedAt = Date.now();
        } finally {
          target.listing = undefined;
        }
      })();
      await target.listing;
    }
    return index.entries;
  }

  /** The generations that have chunks under `name`, oldest first. */
  async generations(name: string): Promise<number[]> {
    const gens = new Set<number>();
    for await (const item of this.store.list(streamPrefix(name))) {
      const entry = parseChunkName(name, item.name);
      if (entry !== undefined) gens.add(entry.gen);
    }
    return [...gens].sort((a, b) => a - b);
  }

  /** Deletes a generation's chunks (a stream closed past its grace period, or opened again). */
  async deleteGeneration(name: string, gen: number): Promise<void> {
    const blobs: string[] = [];
    for await (const item of this.store.list(generationPrefix(name, gen))) if (parseChunkName(name, item.name) !== undefined) blobs.push(item.name);
    for (const blob of blobs) {
      await this.store.delete(blob);
      this.forgetDecoded(blob);
    }
    this.indexes.delete(indexKey(name, gen));
  }

  /**
   * Archived lines of generation `gen` from `seq` on, within the one chunk
   * that holds it (at most `maxLines`, about `maxBytes`, never past `toSeq`).
   * Empty when no chunk holds `seq`; `nextArchived` then says where the archive
   * goes on (undefined: nothing after). One chunk a read: readers that start
   * anywhere in a chunk read from the same seqs from the next chunk on, and
   * share each slice (chunkSlice) as they share the decoded chunk.
   */
  async read(
    name: string,
    gen: number,
    seq: number,
    toSeq: number,
    maxLines: number,
    maxBytes: number,
  ): Promise<{ lines: readonly StoredLine[]; nextArchived?: number }> {
    let entries = await this.entries(name, gen);
    let at = findChunk(entries, seq);
    if (at.entry === undefined && at.next === undefined) {
      // Past what is known: another instance (or this one, since) may have written more.
      entries = await this.entries(name, gen, true);
      at = findChunk(entries, seq);
    }
    if (at.entry === undefined) return { lines: [], nextArchived: at.next?.firstSeq };
    const entry = at.entry;
    const lines = await this.decode(entry);
    if (lines === undefined) return { lines: [] }; // deleted meanwhile
    return { lines: chunkSlice(lines, seq - entry.firstSeq, toSeq - entry.firstSeq + 1, maxLines, maxBytes) };
  }

  private async decode(entry: ChunkEntry): Promise<StoredLine[] | undefined> {
    const cached = this.decoded.get(entry.blob);
    if (cached !== undefined) {
      this.decoded.delete(entry.blob);
      this.decoded.set(entry.blob, cached);
      return cached.lines;
    }
    // Readers that arrive together (a hundred late joiners) share one read and one decode.
    let loading = this.loading.get(entry.blob);
    if (loading === undefined) {
      loading = this.load(entry).finally(() => this.loading.delete(entry.blob));
      this.loading.set(entry.blob, loading);
    }
    return loading;
  }

  /** A chunk's body as stored: its lines as snapshot rows (undefined: deleted meanwhile). */
  async body(entry: ChunkEntry): Promise<Buffer | undefined> {
    const got = await this.store.get(entry.blob);
    if (got === null) return undefined;
    const parts: Buffer[] = [];
    for await (const part of got.body as AsyncIterable<Buffer>) parts.push(part);
    return Buffer.concat(parts);
  }

  private async load(entry: ChunkEntry): Promise<StoredLine[] | undefined> {
    const body = await this.body(entry);
    if (body === undefined) return undefined;
    const lines = decodeChunk(entry, body);
    let bytes = 0;
    for (const line of lines) bytes += line.eventBytes + line.textBytes;
    this.decoded.set(entry.blob, { lines, bytes });
    this.decodedBytes += bytes;
    while (this.decodedBytes > DECODED_CACHE_BYTES && this.decoded.size > 1) this.forgetDecoded(this.decoded.keys().next().value!);
    return lines;
  }

  private forgetDecoded(blob: string): void {
    const cached = this.decoded.get(blob);
    if (cached === undefined) return;
    this.decoded.delete(blob);
    this.decodedBytes -= cached.bytes;
  }
}

/** Slices of each decoded chunk that readers share: they go with the decoded chunk (weakly held). */
const chunkSlices = new WeakMap<readonly StoredLine[], SharedSlices>();
/** First indexes of a chunk whose slices are kept. */
const SLICES_KEPT = 8;

/**
 * `lines[start..]` up to `stop` (exclusive: the reader's toSeq), at most
 * `maxLines`, about `maxBytes` (the first line always). A slice that `stop`
 * did not cut is kept for the next reader who asks the same; one it cut is
 * that reader's own.
 */
function chunkSlice(lines: readonly StoredLine[], start: number, stop: number, maxLines: number, maxBytes: number): readonly StoredLine[] {
  let slices = chunkSlices.get(lines);
  const kept = slices?.get(start, maxLines, maxBytes);
  if (kept !== undefined && start + kept.length <= stop) return kept;
  const limit = Math.min(lines.length, start + maxLines);
  const end = batchEnd(lines, start, Math.min(limit, stop), maxBytes);
  const slice = lines.slice(start, end);
  if (end === stop && stop < limit) return slice; // cut by this reader's toSeq
  if (slices === undefined) chunkSlices.set(lines, (slices = new SharedSlices(SLICES_KEPT)));
  slices.keep(start, maxLines, maxBytes, slice);
  return slice;
}

function indexKey(name: string, gen: number): string {
  return `${gen}\u0000${name}`;
}

function insertEntry(entries: ChunkEntry[], entry: ChunkEntry): void {
  const last = entries[entries.length - 1];
  if (last === undefined || last.firstSeq < entry.firstSeq) {
    entries.push(entry);
    return;
  }
  if (entries.some((e) => e.blob === entry.blob)) return;
  entries.push(entry);
  entries.sort((a, b) => a.firstSeq - b.firstSeq);
}

/**
 * Where a byte reader of `offset` starts: the first seq of the chunk that
 * holds that byte, or the seq after the last chunk when it ends at or before
 * it (0 with no chunk). Binary search over the index; offsets grow with seqs.
 */
export function seqAtOffset(entries: readonly ChunkEntry[], offset: number): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (entries[mid]!.firstOffset <= offset) lo = mid + 1;
    else hi = mid;
  }
  const entry = entries[lo - 1];
  if (entry === undefined) return 0;
  return entry.firstOffset + entry.textBytes > offset ? entry.firstSeq : entry.firstSeq + entry.lines;
}

/** The chunk holding `seq` (binary search), or the first one after it. */
function findChunk(entries: readonly ChunkEntry[], seq: number): { entry?: ChunkEntry; next?: ChunkEntry } {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (entries[mid]!.firstSeq + entries[mid]!.lines <= seq) lo = mid + 1;
    else hi = mid;
  }
  const candidate = entries[lo];
  if (candidate !== undefined && candidate.firstSeq <= seq) return { entry: candidate };
  return { next: candidate };
}
