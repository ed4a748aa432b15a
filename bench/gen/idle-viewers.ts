// Idle viewers: `count` SSE connections (raw sockets, HTTP/1.1 GET), viewer i
// on stream `idle/<(offset+i) % streams>` of account `bench<… % accounts>`.
// Reports once every connection got its response head and first event
// (`retry:` + `: ping`), then holds them until {type:'close'}.
import net from 'node:net';
import { finish, generatorConfig, post, receive } from '../lib/generator.ts';

interface Config {
  port: number;
  count: number;
  offset: number;
  streams: number;
  accounts: number;
  concurrency: number;
  timeoutMs: number;
}
const cfg = generatorConfig<Config>();

const sockets: net.Socket[] = [];
let ready = 0;
let failed = 0;
const errors: string[] = [];

function connect(i: number): Promise<void> {
  const n = cfg.offset + i;
  const stream = n % cfg.streams;
  const account = `bench${stream % cfg.accounts}`;
  return new Promise((done) => {
    const socket = net.connect(cfg.port, '127.0.0.1');
    sockets.push(socket);
    let head = '';
    let counted = false;
    socket.on('connect', () => {
      socket.write(`GET /stream?accountID=${account}&key=idle/${stream} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
    });
    socket.on('data', (c: Buffer) => {
      if (counted) return;
      head += c.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      if (!head.startsWith('HTTP/1.1 200')) {
        counted = true;
        failed++;
        if (errors.length < 3) errors.push(head.split('\r\n')[0] ?? '');
        done();
        return;
      }
      if (head.includes(': ping\n\n')) {
        counted = true;
        ready++;
        done();
      }
    });
    socket.on('error', (err) => {
      if (!counted) {
        counted = true;
        failed++;
        if (errors.length < 3) errors.push(err.message);
        done();
      }
    });
  });
}

// Bounded concurrency: a burst of 10 000 SYNs would overflow the listen backlog.
let nextIndex = 0;
async function worker(): Promise<void> {
  while (nextIndex < cfg.count) await connect(nextIndex++);
}
const connecting = Promise.all(Array.from({ length: cfg.concurrency }, () => worker()));
await Promise.race([connecting, new Promise((r) => setTimeout(r, cfg.timeoutMs).unref())]);
post({ type: 'connected', ready, failed, errors });
await Promise.race([receive('close'), new Promise((r) => setTimeout(r, cfg.timeoutMs).unref())]);
for (const s of sockets) s.destroy();
finish({ ready, failed });
