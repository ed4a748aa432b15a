// The producer of livelog_fanout: one long `PUT <path>` with a chunked body,
// as a taskcluster worker pipes a task's output into livelog. Waits for
// {type:'go'}, then writes `lines` lines of exactly `lineBytes` bytes
// (`ts=<µs since epochMs> n=<n> <padding>\n`, stamped per batch) in batches
// of `batchLines`, as fast as the connection takes them (backpressure: the
// next batch waits for 'drain'), then ends the body and waits for the answer.
// Reports the bytes, their CRC-32, the status and the timings.
import http from 'node:http';
import { crc32 } from 'node:zlib';
import { finish, generatorConfig, nowMs, post, receive } from '../lib/generator.ts';

interface Config {
  epochMs: number;
  port: number;
  path: string;
  lines: number;
  batchLines: number;
  lineBytes: number;
}
const cfg = generatorConfig<Config>();

post({ type: 'opened' });
await receive('go');

const req = http.request({ host: '127.0.0.1', port: cfg.port, path: cfg.path, method: 'PUT', agent: false, headers: { 'Content-Type': 'text/plain' } });
const answered = new Promise<{ status: string; at: number }>((resolve) => {
  req.on('response', (res) => {
    res.resume();
    res.on('end', () => resolve({ status: String(res.statusCode), at: nowMs() }));
  });
  req.on('error', (err) => resolve({ status: `error: ${err.message}`, at: nowMs() }));
});

let checksum = 0;
const pad = new Map<number, string>();
const start = nowMs();
let sent = 0;
while (sent < cfg.lines) {
  const due = Math.min(cfg.batchLines, cfg.lines - sent);
  const ts = Math.round((nowMs() - cfg.epochMs) * 1000);
  const parts: string[] = new Array(due);
  for (let i = 0; i < due; i++) {
    const head = `ts=${ts} n=${sent + i} `;
    const n = cfg.lineBytes - head.length - 1;
    let p = pad.get(n);
    if (p === undefined) pad.set(n, (p = 'x'.repeat(n)));
    parts[i] = `${head}${p}\n`;
  }
  const body = Buffer.from(parts.join(''), 'latin1');
  checksum = crc32(body, checksum);
  sent += due;
  if (!req.write(body)) await new Promise((r) => req.once('drain', r));
}
const end = nowMs();
req.end();
const answer = await answered;
finish({
  lines: sent,
  bytes: sent * cfg.lineBytes,
  crc32: checksum,
  batches: Math.ceil(sent / cfg.batchLines),
  start_ms: start,
  end_ms: end,
  closed_ms: answer.at,
  errors: answer.status === '201' ? [] : [`PUT answered ${answer.status}`],
});
