// The writer of raw_fanout, late_joiners and rate_fanout: pushes log text
// (`PUT`, `Content-Type: text/plain`, so the log's text, docs/PROTOCOL.md
// §4.6, is exactly the bytes pushed) over one keep-alive socket, one request
// in flight. Opens the stream first (POST) unless `open` is false, waits for
// {type:'go'}, then pushes `lines` lines in batches of `batchLines` as fast as
// the server answers, or, with `rate`, the lines due at `rate` lines/s for
// `durationMs` (whatever fell due meanwhile goes in the next batch). Every
// line is exactly `lineBytes` long: `ts=<µs since epochMs> n=<n> <padding>\n`,
// the stamp taken when its batch is sent. With `close`, ends with DELETE
// `path` + `closeQuery`. With `file`, also appends every byte to that file
// (the baselines serve it). Reports the bytes, their CRC-32 and timings.
import { closeSync, openSync, writeSync } from 'node:fs';
import net from 'node:net';
import { crc32 } from 'node:zlib';
import { finish, generatorConfig, nowMs, post, receive } from '../lib/generator.ts';

interface Config {
  epochMs: number;
  port: number;
  /** `/stream?accountID=…&key=…` */
  path: string;
  open: boolean;
  close: boolean;
  closeQuery?: string;
  lines: number;
  batchLines: number;
  lineBytes: number;
  rate?: number;
  durationMs?: number;
  file?: string;
}
const cfg = generatorConfig<Config>();

const socket = net.connect(cfg.port, '127.0.0.1');
socket.setNoDelay(true);
await new Promise<void>((r, j) => {
  socket.once('connect', () => r());
  socket.once('error', j);
});

let buffered = '';
let waiting: ((status: string) => void) | undefined;
socket.on('data', (chunk: Buffer) => {
  buffered += chunk.toString('latin1');
  for (;;) {
    const end = buffered.indexOf('\r\n\r\n');
    if (end === -1) return;
    const head = buffered.slice(0, end);
    const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
    if (buffered.length < end + 4 + length) return;
    buffered = buffered.slice(end + 4 + length);
    const w = waiting;
    waiting = undefined;
    w?.(head.slice(9, 12));
  }
});
socket.on('error', () => waiting?.('ERR'));
socket.on('close', () => waiting?.('EOF'));

function call(method: string, path: string, body?: Buffer): Promise<string> {
  socket.write(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body?.length ?? 0}\r\n\r\n`);
  if (body) socket.write(body);
  return new Promise((r) => {
    waiting = r;
  });
}

const errors: string[] = [];
if (cfg.open) {
  const opened = await call('POST', cfg.path);
  if (opened !== '204') throw new Error(`open: ${opened}`);
}
const fd = cfg.file === undefined ? undefined : openSync(cfg.file, 'a');
post({ type: 'opened' });
await receive('go');

let checksum = 0;
const pads = new Map<number, string>();
const pad = (n: number) => {
  let p = pads.get(n);
  if (p === undefined) pads.set(n, (p = 'x'.repeat(n)));
  return p;
};
const start = nowMs();
const deadline = cfg.rate === undefined ? Infinity : start + (cfg.durationMs ?? 0);
const limit = cfg.rate === undefined ? cfg.lines : Infinity;
let sent = 0;
let batches = 0;
while (sent < limit && nowMs() < deadline) {
  const due = Math.min(cfg.rate === undefined ? limit - sent : Math.floor(((nowMs() - start) / 1000) * cfg.rate) - sent, cfg.batchLines);
  if (due <= 0) {
    await new Promise((r) => setTimeout(r, 1));
    continue;
  }
  const ts = Math.round((nowMs() - cfg.epochMs) * 1000);
  const parts: string[] = new Array(due);
  for (let i = 0; i < due; i++) {
    const head = `ts=${ts} n=${sent + i} `;
    parts[i] = `${head}${pad(cfg.lineBytes - head.length - 1)}\n`;
  }
  const body = Buffer.from(parts.join(''), 'latin1');
  checksum = crc32(body, checksum);
  if (fd !== undefined) writeSync(fd, body);
  const status = await call('PUT', cfg.path, body);
  if (status !== '204') {
    errors.push(`push: ${status}`);
    break;
  }
  sent += due;
  batches++;
}
const end = nowMs();
if (fd !== undefined) closeSync(fd);
if (cfg.close) {
  const closed = await call('DELETE', `${cfg.path}${cfg.closeQuery ?? ''}`);
  if (closed !== '204') errors.push(`close: ${closed}`);
}
socket.end();
finish({
  lines: sent,
  bytes: sent * cfg.lineBytes,
  crc32: checksum,
  batches,
  start_ms: start,
  end_ms: end,
  closed_ms: nowMs(),
  errors,
});
