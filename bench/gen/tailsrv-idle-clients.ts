// tailsrv_fanout's paced phase: `idle` connections that each send
// `idleHeader` (a file nobody writes to) and `stalled` connections that send
// `stalledHeader` and never read (the socket is paused before the header).
// Reports {connected} once all are open, holds them until {type:'close'},
// then reports how many of each were still open and how many bytes the idle
// ones received.
import net from 'node:net';
import { finish, generatorConfig, post, receive } from '../lib/generator.ts';

interface Config {
  port: number;
  idle: number;
  idleHeader: string;
  stalled: number;
  stalledHeader: string;
}
const cfg = generatorConfig<Config>();
const BATCH = 100;

interface Held {
  socket: net.Socket;
  closed: boolean;
  received: number;
}

function open(header: string, paused: boolean): Promise<Held> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(cfg.port, '127.0.0.1');
    const held: Held = { socket, closed: false, received: 0 };
    socket.once('error', reject);
    socket.on('close', () => (held.closed = true));
    socket.on('data', (c: Buffer) => (held.received += c.length));
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => {});
      if (paused) socket.pause();
      socket.write(header);
      resolve(held);
    });
  });
}

const idle: Held[] = [];
for (let i = 0; i < cfg.idle; i += BATCH) {
  idle.push(...(await Promise.all(Array.from({ length: Math.min(BATCH, cfg.idle - i) }, () => open(cfg.idleHeader, false)))));
}
const stalled = await Promise.all(Array.from({ length: cfg.stalled }, () => open(cfg.stalledHeader, true)));
post({ connected: true });
await receive('close');
finish({
  idle_open: idle.filter((h) => !h.closed).length,
  idle_bytes: idle.reduce((a, h) => a + h.received, 0),
  stalled_open: stalled.filter((h) => !h.closed).length,
});
for (const h of [...idle, ...stalled]) h.socket.destroy();
