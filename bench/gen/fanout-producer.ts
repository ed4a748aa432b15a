// Fanout producer: opens the stream, waits for {type:'go'}, then pushes
// `rate` lines/s for `durationMs` as JSON batches over one keep-alive socket
// (one request in flight; whatever fell due meanwhile goes in the next batch).
// Each line carries its push time: `ts=<µs since the run's epoch> n=<n> …`. Then closes
// the stream (DELETE) so viewers receive the terminal event.
import net from 'node:net';
import { finish, generatorConfig, nowMs, post, receive } from '../lib/generator.ts';

interface Config {
  epochMs: number;
  port: number;
  account: string;
  key: string;
  rate: number;
  durationMs: number;
  lineChars: number;
  maxBatch: number;
}
const cfg = generatorConfig<Config>();
const path = `/stream?accountID=${cfg.account}&key=${encodeURIComponent(cfg.key)}`;

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
  const end = buffered.indexOf('\r\n\r\n');
  if (end === -1) return;
  const head = buffered.slice(0, end);
  const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
  if (buffered.length < end + 4 + length) return;
  buffered = buffered.slice(end + 4 + length);
  const w = waiting;
  waiting = undefined;
  w?.(head.slice(9, 12));
});
socket.on('error', () => {
  waiting?.('ERR');
});

function call(method: string, body?: string): Promise<string> {
  const payload = body === undefined ? undefined : Buffer.from(body);
  socket.write(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${payload?.length ?? 0}\r\n\r\n`);
  if (payload) socket.write(payload);
  return new Promise((r) => {
    waiting = r;
  });
}

const opened = await call('POST');
if (opened !== '204') throw new Error(`open: ${opened}`);
post({ type: 'opened' });
await receive('go');

const pad = 'x'.repeat(cfg.lineChars);
const start = nowMs();
const deadline = start + cfg.durationMs;
let sent = 0;
let batches = 0;
let maxBatchSeen = 0;
const errors: string[] = [];
while (nowMs() < deadline) {
  const due = Math.min(Math.floor(((nowMs() - start) / 1000) * cfg.rate) - sent, cfg.maxBatch);
  if (due <= 0) {
    await new Promise((r) => setTimeout(r, 1));
    continue;
  }
  const ts = Math.round((nowMs() - cfg.epochMs) * 1000); // µs since the run's epoch: small integers, cheap to parse
  const lines: string[] = new Array(due);
  for (let i = 0; i < due; i++) lines[i] = `{"out":"ts=${ts} n=${sent + i} ${pad}\\n"}`;
  const status = await call('PUT', `[${lines.join(',')}]`);
  if (status !== '204') {
    errors.push(`push: ${status}`);
    break;
  }
  sent += due;
  batches++;
  if (due > maxBatchSeen) maxBatchSeen = due;
}
const elapsed = nowMs() - start;
const closed = await call('DELETE');
if (closed !== '204') errors.push(`close: ${closed}`);
socket.end();
finish({ lines: sent, batches, max_batch: maxBatchSeen, start_ms: start, elapsed_ms: elapsed, publish_lines_per_s: sent / (elapsed / 1000), errors });
