// Raw readers (raw_fanout, late_joiners, rate_fanout, livelog_fanout): `readers` HTTP GETs of
// `path` + `&offset=N` (or `path` alone, `resumes: false`) on raw sockets, each counting and hashing the body
// bytes (chunked transfer coding decoded here, or a Content-Length body).
// A reader is done once it has `expectedBytes` (given at the start or, when
// the writer runs at a rate and the length is known only at its end, in an
// {type:'expect', bytes} message). A response that ends sooner is asked
// again from `offset` = bytes received (docs/PROTOCOL.md §7, resuming after a
// cut), also when it ended with no byte at all; an `X-Log-Offset` past that
// is a gap (the bytes are counted as skipped, and the reader cannot be
// complete). A response other than 200 ends the reader.
// Latency: for each piece of body, receive time − the `ts=` stamp (µs since
// `epochMs`) of the newest whole line in it, into a 0.5 ms histogram; with
// `warmupMs`, also into a second one for stamps that many ms or more after the
// first stamp seen (the steady state, past the server's JIT warm-up).
// Posts {connected} once every reader has its first response head; reports
// per reader bytes, gaps and the CRC-32 of what it received: with the byte
// count and the offsets, it tells a lost, doubled or reordered byte from the
// writer's, and runs about three times as fast as sha256 here (1.6 GB/s): the
// readers share the server's two cores, and a hash was two thirds of their time.
import net from 'node:net';
import { crc32 } from 'node:zlib';
import { finish, generatorConfig, nowMs, post, steadyState } from '../lib/generator.ts';

interface Config {
  port: number;
  /** `/stream/raw?accountID=…&key=…` */
  path: string;
  readers: number;
  expectedBytes?: number;
  epochMs: number;
  timeoutMs: number;
  /** false: `path` as it is, one request (livelog's readers cannot resume); a cut reader is incomplete. */
  resumes?: boolean;
  /** Stamps this long after the first one seen also count in `steady_histogram`. */
  warmupMs?: number;
}
const cfg = generatorConfig<Config>();
const BUCKET_MS = 0.5;
const histogram: Record<string, number> = {};
const steadyHistogram: Record<string, number> = {};
const steady = steadyState(cfg.warmupMs);
const TS = Buffer.from('ts=');

interface Reader {
  received: number;
  skipped: number;
  requests: number;
  checksum: number;
  doneAt?: number;
  lastByteAt?: number;
  status?: string;
  /** The first few requests: `<status> @<X-Log-Offset>: <body bytes>` (diagnostics). */
  trace: string[];
}
const readers: Reader[] = [];
let headsSeen = 0;

function sample(piece: Buffer, now: number): void {
  const last = piece.lastIndexOf(10);
  if (last <= 0) return;
  const start = piece.lastIndexOf(10, last - 1) + 1;
  if (start === 0 || piece.indexOf(TS, start) !== start) return;
  let stamp = 0;
  for (let i = start + TS.length; i < last; i++) {
    const c = piece[i]!;
    if (c < 48 || c > 57) break;
    stamp = stamp * 10 + (c - 48);
  }
  const ms = (now - cfg.epochMs) * 1000 - stamp;
  const bucket = Math.floor(Math.max(0, ms / 1000) / BUCKET_MS);
  histogram[bucket] = (histogram[bucket] ?? 0) + 1;
  if (steady(stamp)) steadyHistogram[bucket] = (steadyHistogram[bucket] ?? 0) + 1;
}

/** One GET from `r.received`; resolves with the number of body bytes it gave (-1: not 200). */
function request(r: Reader, first: boolean): Promise<number> {
  return new Promise((done) => {
    const socket = net.connect(cfg.port, '127.0.0.1');
    let got = 0;
    let settled = false;
    let line = 'no response';
    const settle = (n: number) => {
      if (settled) return;
      settled = true;
      if (r.trace.length < 4) r.trace.push(`${line}: ${got}`);
      socket.destroy();
      done(n);
    };
    const target = cfg.resumes === false ? cfg.path : `${cfg.path}&offset=${r.received}`;
    socket.on('connect', () => socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`));
    let head: Buffer | undefined = Buffer.alloc(0);
    let chunked = false;
    let length = Infinity;
    let sizeLine = '';
    let remaining = 0;
    let skip = 0;
    const body = (piece: Buffer) => {
      if (piece.length === 0) return;
      const wanted = cfg.expectedBytes === undefined ? piece.length : Math.min(piece.length, cfg.expectedBytes - r.received);
      const used = wanted < piece.length ? piece.subarray(0, wanted) : piece;
      r.checksum = crc32(used, r.checksum);
      r.received += used.length;
      got += used.length;
      r.lastByteAt = nowMs();
      sample(used, r.lastByteAt);
      if (cfg.expectedBytes !== undefined && r.received >= cfg.expectedBytes) {
        r.doneAt = nowMs();
        settle(got);
      }
    };
    const onBody = (buf: Buffer) => {
      if (!chunked) {
        const n = Math.min(buf.length, length);
        length -= n;
        body(buf.subarray(0, n));
        if (length <= 0) settle(got);
        return;
      }
      // RFC 9112 §7.1: "<hex size>\r\n<data>\r\n" …, "0\r\n\r\n" at the end.
      let i = 0;
      while (i < buf.length && !settled) {
        if (skip > 0) {
          const n = Math.min(skip, buf.length - i);
          skip -= n;
          i += n;
        } else if (remaining > 0) {
          const n = Math.min(remaining, buf.length - i);
          body(buf.subarray(i, i + n));
          remaining -= n;
          i += n;
          if (remaining === 0) skip = 2;
        } else {
          const nl = buf.indexOf(10, i);
          if (nl === -1) {
            sizeLine += buf.toString('latin1', i);
            return;
          }
          sizeLine += buf.toString('latin1', i, nl);
          i = nl + 1;
          remaining = parseInt(sizeLine.trim(), 16);
          sizeLine = '';
          if (remaining === 0) {
            settle(got);
            return;
          }
        }
      }
    };
    socket.on('data', (chunk: Buffer) => {
      if (head === undefined) {
        onBody(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      const text = head.toString('latin1', 0, end);
      const rest = head.subarray(end + 4);
      head = undefined;
      if (first && ++headsSeen === cfg.readers) post({ type: 'connected' });
      r.status = text.slice(9, 12);
      line = r.status;
      if (r.status !== '200') {
        settle(-1);
        return;
      }
      const at = Number(/^x-log-offset: *(\d+)/im.exec(text)?.[1] ?? r.received);
      line = `${r.status} @${at}`;
      if (at > r.received) {
        // The bytes before `at` are no longer there: a gap. The hash can no longer match.
        r.skipped += at - r.received;
        r.received = at;
      }
      chunked = /^transfer-encoding: *chunked/im.test(text);
      const cl = /^content-length: *(\d+)/im.exec(text);
      if (!chunked && cl) length = Number(cl[1]);
      if (rest.length > 0) onBody(rest);
    });
    socket.on('close', () => settle(got));
    socket.on('error', () => settle(got));
  });
}

async function read(): Promise<void> {
  const r: Reader = { received: 0, skipped: 0, requests: 0, checksum: 0, trace: [] };
  readers.push(r);
  let first = true;
  while (r.doneAt === undefined) {
    r.requests++;
    const got = await request(r, first);
    first = false;
    if (r.doneAt !== undefined || cfg.resumes === false) break;
    if (cfg.expectedBytes !== undefined && r.received >= cfg.expectedBytes) {
      r.doneAt = r.lastByteAt ?? nowMs();
      break;
    }
    if (got < 0) break; // not 200 (say 404: no such log)
    // An empty answer is not the end: the end is `expectedBytes`, given or sent later ({type:'expect'}).
    if (got === 0) await new Promise((res) => setTimeout(res, 50));
  }
}

process.on('message', (m: Record<string, unknown>) => {
  if (m.type === 'expect') cfg.expectedBytes = Number(m.bytes);
});

const connectStart = nowMs();
const all = Promise.all(Array.from({ length: cfg.readers }, () => read()));
await Promise.race([all, new Promise((r) => setTimeout(r, cfg.timeoutMs).unref())]);
finish({
  connect_start_ms: connectStart,
  readers: readers.map((r) => ({
    received: r.received,
    skipped: r.skipped,
    requests: r.requests,
    status: r.status ?? '',
    done_at: r.doneAt ?? null,
    crc32: r.doneAt === undefined ? null : r.checksum,
    trace: r.trace,
  })),
  histogram,
  steady_histogram: (cfg.warmupMs ?? 0) > 0 ? steadyHistogram : undefined,
  bucket_ms: BUCKET_MS,
});
