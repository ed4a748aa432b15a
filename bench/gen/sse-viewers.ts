// Fanout viewers: `viewers` SSE tails of one stream, one raw socket each
// (HTTP/1.1 with a small chunked-encoding decoder: the generator shares two
// cores with the server, so its own cost per line has to be small). Per viewer, checks ids arrive as 0, 1, 2, … exactly once
// (gaps, duplicates and `event: dropped` are losses) and records each line's
// latency = receive time − the push time written in the line (`ts=`, µs
// since an epoch the orchestrator gives both sides), into a
// 0.1 ms histogram — all lines, and those stamped `warmupMs` or more after the
// first line (the steady state, past the server's JIT warm-up). Reports after
// every viewer got the terminal event.
import net from 'node:net';
import { finish, generatorConfig, nowMs, post, steadyState } from '../lib/generator.ts';
import { eventEnd, wholeEvents } from '../lib/sse-events.ts';

interface Config {
  port: number;
  path: string;
  viewers: number;
  timeoutMs: number;
  epochMs: number;
  minTail: number;
  /** Lines stamped within this long after the first line seen count only in the `all` histogram. */
  warmupMs?: number;
}
const cfg = generatorConfig<Config>();

const BUCKET_MS = 0.1;
const BUCKETS = 600_000; // 60 s
const histogram = new Uint32Array(BUCKETS + 1);
const steadyHistogram = new Uint32Array(BUCKETS + 1);
const steady = steadyState(cfg.warmupMs);
const ID = Buffer.from('id: ');
const TS = Buffer.from('ts=');

interface Viewer {
  next: number;
  received: number;
  missing: number;
  duplicates: number;
  dropped: number;
  ended: boolean;
  lastAt: number;
}
const viewers: Viewer[] = [];
let connected = 0;

let parsedEnd = 0;
/** Decimal digits from `at` (a small integer: ids and microsecond stamps); the end goes to parsedEnd. */
function digits(buf: Buffer, at: number): number {
  let v = 0;
  let i = at;
  for (; i < buf.length; i++) {
    const c = buf[i]!;
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
  }
  parsedEnd = i;
  return v;
}

function consume(v: Viewer, buf: Buffer, now: number): void {
  let pos = 0;
  while (pos < buf.length) {
    // A line event starts with "id: "; others are comments or named events.
    if (buf[pos] === 105 && buf[pos + 1] === 100 && buf[pos + 2] === 58) {
      const id = digits(buf, pos + ID.length);
      const after = parsedEnd;
      if (id === v.next) v.next++;
      else if (id > v.next) {
        v.missing += id - v.next;
        v.next = id + 1;
      } else v.duplicates++;
      v.received++;
      // "id: N\ndata: {"level":"info","pos":N,"out":"ts=" — pos is the seq, so ts= is usually at a known place.
      const guess = after + 29 + (after - pos - ID.length) + 8;
      const t = buf[guess] === 116 && buf[guess + 1] === 115 && buf[guess + 2] === 61 ? guess : buf.indexOf(TS, after);
      let scanFrom = after;
      if (t !== -1) {
        const stamp = digits(buf, t + TS.length);
        const us = now - stamp;
        // The producer's lines carry `minTail` more bytes after the stamp: skip them unscanned.
        scanFrom = t === guess ? parsedEnd + cfg.minTail : parsedEnd;
        const bucket = Math.min(BUCKETS, Math.max(0, Math.floor(us / (BUCKET_MS * 1000))));
        histogram[bucket]!++;
        if (steady(stamp)) steadyHistogram[bucket]!++;
      }
      const end = eventEnd(buf, scanFrom);
      if (end === -1) return;
      pos = end + 2;
      continue;
    }
    const end = eventEnd(buf, pos);
    if (end === -1) return;
    const text = buf.toString('latin1', pos, end);
    if (text.startsWith('event: dropped')) v.dropped++;
    else if (text.includes('data: eof')) v.ended = true;
    pos = end + 2;
  }
}

/** Feeds whole SSE events to consume(), each piece's with its receive time. */
function eventFeeder(v: Viewer): (data: Buffer) => void {
  let now = 0;
  const feed = wholeEvents((events) => consume(v, events, now));
  return (data) => {
    const wall = nowMs();
    v.lastAt = wall;
    now = Math.round((wall - cfg.epochMs) * 1000); // µs since the run's epoch, as the producer stamps them
    feed(data);
  };
}

function open(index: number): Promise<void> {
  const v: Viewer = { next: 0, received: 0, missing: 0, duplicates: 0, dropped: 0, ended: false, lastAt: 0 };
  viewers.push(v);
  const feed = eventFeeder(v);
  return new Promise((done) => {
    const socket = net.connect(cfg.port, '127.0.0.1');
    socket.on('connect', () => socket.write(`GET ${cfg.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`));
    let head: Buffer | undefined = Buffer.alloc(0);
    // Chunked transfer coding (RFC 9112 §7.1): "<hex size>\r\n<data>\r\n" …, "0\r\n\r\n" at the end.
    let sizeLine = '';
    let remaining = 0; // data bytes left in the current chunk
    let skip = 0; // CRLF bytes after a chunk's data
    const onBody = (buf: Buffer) => {
      let i = 0;
      while (i < buf.length) {
        if (skip > 0) {
          const n = Math.min(skip, buf.length - i);
          skip -= n;
          i += n;
        } else if (remaining > 0) {
          const n = Math.min(remaining, buf.length - i);
          feed(buf.subarray(i, i + n));
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
            socket.end();
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
      if (!text.startsWith('HTTP/1.1 200')) {
        console.error(`viewer ${index}: ${text.split('\r\n')[0]}`);
        socket.destroy();
        return;
      }
      connected++;
      if (connected === cfg.viewers) post({ type: 'connected', connected });
      if (rest.length > 0) onBody(rest);
    });
    socket.on('close', () => done());
    socket.on('error', (err) => {
      console.error(`viewer ${index}: ${err.message}`);
    });
  });
}

const all = Promise.all(Array.from({ length: cfg.viewers }, (_, i) => open(i)));
const timeout = new Promise<void>((r) => setTimeout(r, cfg.timeoutMs).unref());
await Promise.race([all, timeout]);

function sparse(h: Uint32Array): Record<string, number> {
  const out: Record<string, number> = {};
  h.forEach((n, i) => {
    if (n > 0) out[i] = n;
  });
  return out;
}
finish({
  viewers: viewers.map(({ next, received, missing, duplicates, dropped, ended, lastAt }) => ({ next, received, missing, duplicates, dropped, ended, lastAt })),
  histogram: sparse(histogram),
  // Without a warm-up every line is the steady state: one histogram, not two alike.
  steady_histogram: (cfg.warmupMs ?? 0) > 0 ? sparse(steadyHistogram) : undefined,
  bucket_ms: BUCKET_MS,
});
