// The archive's chunk format (docs/ARCHIVE.md §2). A chunk is one blob of
// consecutive lines of one generation of one stream: NDJSON of the lines'
// JSON, the rows of a snapshot (handler/tail/snapshot.ts). Everything a
// reader needs to find a chunk is in its blob name, so one listing is the
// index:
//
//   ~archive/<name>/~<gen>/<firstSeq>-<lines>-<firstOffset>-<textBytes>
//
// every number zero-padded to 16 digits (lines: 8), so names sort by seq.
// `~` is not a character of an accountID, so no user's blob name (always
// `<accountID>/<key>`) starts with `~archive/`, and no listing or zip of an
// account's blobs (prefix `<accountID>/…`) ever shows a chunk.
import { blockOf, copyJson } from '../stream/line-codec.ts';
import type { SentPush, StoredLine } from '../stream/log-stream.ts';
import { encodeSent } from '../stream/raw-block.ts';

/** The blob-name namespace of the archive: no user blob name can start with it. */
const ARCHIVE_NAMESPACE = '~archive/';

export interface ChunkEntry {
  /** The chunk's blob name. */
  blob: string;
  gen: number;
  firstSeq: number;
  lines: number;
  firstOffset: number;
  textBytes: number;
}

/** What decoding a chunk's rows needs of its entry: where its lines start. */
export type ChunkPlace = Pick<ChunkEntry, 'firstSeq' | 'lines' | 'firstOffset'>;

const pad = (n: number, width = 16): string => String(n).padStart(width, '0');

/** Every generation's chunks of `name` start with this. */
export function streamPrefix(name: string): string {
  return `${ARCHIVE_NAMESPACE}${name}/~`;
}

/** One generation's chunks of `name` start with this. */
export function generationPrefix(name: string, gen: number): string {
  return `${streamPrefix(name)}${pad(gen)}/`;
}

export function chunkName(name: string, gen: number, firstSeq: number, lines: number, firstOffset: number, textBytes: number): string {
  return `${generationPrefix(name, gen)}${pad(firstSeq)}-${pad(lines, 8)}-${pad(firstOffset)}-${pad(textBytes)}`;
}

const CHUNK_SUFFIX = /^(\d{16})\/(\d{16})-(\d{8})-(\d{16})-(\d{16})$/;

/**
 * The chunk a blob name under streamPrefix(name) names, or undefined for
 * anything else (a chunk of a stream whose name goes on below `name`, such as
 * `<name>/~x`, has a `/` in what follows the prefix and does not match).
 */
export function parseChunkName(name: string, blob: string): ChunkEntry | undefined {
  const prefix = streamPrefix(name);
  if (!blob.startsWith(prefix)) return undefined;
  const m = CHUNK_SUFFIX.exec(blob.slice(prefix.length));
  if (m === null) return undefined;
  return { blob, gen: Number(m[1]), firstSeq: Number(m[2]), lines: Number(m[3]), firstOffset: Number(m[4]), textBytes: Number(m[5]) };
}

/**
 * The body of a chunk of consecutive `lines`: their JSON rows, one buffer (one
 * blob write). A row is its line's event less the event's head and final blank
 * line, so the events of a run of adjacent lines (one push's block) are copied
 * at once and each row is then moved down into place within the body
 * (`copyWithin`, which makes no view), where `Buffer.copy` a line made a
 * `Uint8Array` view a line: with the reading of the lines, 10.1–10.9 → 7.0–8.7
 * µs a 100-line push (BENCHMARKS.md, "ingest: what is left, part by part").
 * The rows are the start of a buffer the events' size (a tenth to a quarter
 * more), which the writer holds until the chunk is sealed.
 */
export function encodeChunk(lines: readonly StoredLine[]): Buffer {
  let eventBytes = 0;
  for (const line of lines) eventBytes += line.eventBytes;
  const body = Buffer.allocUnsafe(eventBytes);
  let at = 0;
  for (let i = 0; i < lines.length;) {
    const first = lines[i]!;
    const run = first.eventRun;
    let end = first.eventStart + first.eventBytes;
    let next = i + 1;
    while (next < lines.length && lines[next]!.eventRun === run && lines[next]!.eventStart === end) end += lines[next++]!.eventBytes;
    if (next === i + 1) {
      at += copyJson(first, body, at);
      body[at++] = 0x0a;
      i = next;
      continue;
    }
    // The run's events at `at`: every row then moves down (a row is shorter than its event and starts after its head).
    const base = at - first.eventStart;
    run.copy(body, at, first.eventStart, end);
    for (; i < next; i++) {
      const line = lines[i]!;
      const from = base + line.eventStart + line.jsonStart;
      body.copyWithin(at, from, base + line.eventStart + line.eventBytes - 2);
      at += line.eventBytes - line.jsonStart - 2;
      body[at++] = 0x0a;
    }
  }
  return body.subarray(0, at);
}

/**
 * A push kept as sent (stream/raw-block.ts) in a chunk body: a head row,
 * `{"~push":{"lines":N,"bytes":B,"time":"T"}}`, then the B bytes of its JSON
 * array body, then a newline. The writer copies a push it finds unread in the
 * ring this way instead of encoding its lines (docs/ARCHIVE.md §2). No row of
 * a line starts with `{"~`: every line's JSON starts with `{"level"`.
 */
export function sentRecord(push: SentPush): Buffer[] {
  const head = `{"~push":{"lines":${push.lines},"bytes":${push.body.length},"time":${JSON.stringify(push.time)}}}\n`;
  return [Buffer.from(head, 'latin1'), push.body, NEWLINE];
}

const NEWLINE = Buffer.from('\n');
const SENT_MARK = Buffer.from('{"~push":');

/** A record of a push kept as sent starts at `at` (its head row's first bytes: `{"~`). */
function sentAt(body: Buffer, at: number): boolean {
  return body[at] === 0x7b && body[at + 1] === 0x22 && body[at + 2] === 0x7e;
}

/**
 * The stored lines of a chunk body, with the seqs and offsets its entry names.
 * Each row is parsed once here for its `out` (the decoded chunk is then shared
 * by every reader, chunk-archive.ts): the lines' SSE events, then their texts,
 * go into one buffer, so a reader of consecutive lines sends one view of it
 * (joinEvents, joinText) and no reader decodes JSON. A push kept as sent is
 * encoded here, as it would have been at push.
 */
export function decodeChunk(entry: ChunkPlace, body: Buffer): StoredLine[] {
  const lines: StoredLine[] = [];
  let events: string[] = [];
  let outs: string[] = [];
  const endSeq = entry.firstSeq + entry.lines;
  let seq = entry.firstSeq;
  let offset = entry.firstOffset;
  const takeRows = (): void => {
    if (events.length === 0) return;
    const block = blockOf(seq - events.length, offset, events, outs);
    offset += block.textBytes;
    for (let i = 0; i < block.count; i++) lines.push(block.line(i));
    events = [];
    outs = [];
  };
  let start = 0;
  while (start < body.length && seq < endSeq) {
    let nl = body.indexOf(0x0a, start);
    if (nl === -1) nl = body.length;
    if (sentAt(body, start)) {
      takeRows();
      const head = (JSON.parse(body.toString('latin1', start, nl)) as { '~push': { bytes: number; time: string } })['~push'];
      const block = encodeSent({ firstSeq: seq, firstOffset: offset, time: head.time, body: body.subarray(nl + 1, nl + 1 + head.bytes) });
      for (let i = 0; i < block.count; i++) lines.push(block.line(i));
      seq += block.count;
      offset += block.textBytes;
      start = nl + 1 + head.bytes + 1;
      continue;
    }
    const json = body.toString('utf8', start, nl);
    start = nl + 1;
    const out = (JSON.parse(json) as { out?: unknown }).out;
    events.push(`id: ${seq}\ndata: ${json}\n\n`);
    outs.push(typeof out === 'string' ? out : '');
    seq++;
  }
  takeRows();
  return lines;
}

/**
 * A chunk body as the rows of a snapshot: as stored, unless it holds pushes
 * kept as sent, whose lines are then encoded and written as rows (the
 * finished log is the Harness NDJSON of its lines, docs/ARCHIVE.md §3). A
 * body that merely mentions the mark (an `args` key) is rewritten into the
 * same rows.
 */
export function snapshotRowsOf(entry: ChunkPlace, body: Buffer): Buffer {
  return body.indexOf(SENT_MARK) === -1 ? body : encodeChunk(decodeChunk(entry, body));
}
