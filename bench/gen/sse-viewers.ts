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
import { finish, generatorConfig, nowMs, post } from '../lib/generator.ts';

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
const warmupUs = (cfg.warmupMs ?? 0) * 1000;
/** Stamps from this one on (µs since the epoch) are the steady state: the first stamp seen plus the warm-up. */
let steadyFrom = -1;
const ID = Buffer.from('id: ');
const TS = Buffer.from('ts=');
const END = Buffer.from('\n\n');

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

/**
 * Index of the first blank line ("\n\n") at or after `from`, or -1. A plain
 * loop (cheaper than Buffer#indexOf per event) that reads every second byte:
 * each pair of bytes holds one of them, and at a newline both of its
 * neighbours are checked, the earlier pair first.
 */
function eventEnd(buf: Buffer, from: number): number {
  const n = buf.length;
  for (let i = from + 1; i < n; i += 2) {
    if (buf[i] !== 10) continue;
    if (buf[i - 1] === 10) return i - 1;
    if (i + 1 < n && buf[i + 1] === 10) return i;
  }
  return -1;
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
        if (steadyFrom === -1) steadyFrom = stamp + warmupUs;
        if (warmupUs > 0 && stamp >= steadyFrom) steadyHistogram[bucket]!++;
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

/**
 * Feeds whole SSE events (ending in a blank line) to consume(); keeps a
 * partial event for the next call. A kept partial event is completed with the
 * next piece's bytes up to its first blank line alone, not joined to the whole
 * piece (a copy of every byte received).
 */
function eventFeeder(v: Viewer): (data: Buffer) => void {
  let carry: Buffer | undefined;
  return (data) => {
    const wall = nowMs();
    v.lastAt = wall;
    const now = Math.round((wall - cfg.epochMs) * 1000); // µs since the run's epoch, as the producer stamps them
    let buf = data;
    if (carry !== undefined) {
      // The blank line that ends the kept event: across the boundary, or in this piece.
      // (The kept bytes hold no blank line: they follow the last one.)
      const across = carry[carry.length - 1] === 10 && data[0] === 10;
      const end = across ? 0 : data.indexOf(END);
      if (end === -1) {
        carry = Buffer.concat([carry, data]);
        return;
      }
      const whole = across ? 1 : end + 2;
      consume(v, Buffer.concat([carry, data.subarray(0, whole)]), now);
      carry = undefined;
      buf = data.subarray(whole);
      if (buf.length === 0) return;
    }
    const last = buf.lastIndexOf(END);
    if (last === -1) {
      carry = Buffer.from(buf);
      return;
    }
    carry = last + 2 < buf.length ? Buffer.from(buf.subarray(last + 2)) : undefined;
    buf = buf.subarray(0, last + 2);
    consume(v, buf, now);
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
  steady_histogram: warmupUs > 0 ? sparse(steadyHistogram) : undefined,
  bucket_ms: BUCKET_MS,
});
