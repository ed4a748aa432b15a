// fanout's baseline: a bare node:http server that fans the producer's lines
// out as SSE. POST answers 204; each PUT (a JSON array of {out}) is parsed,
// each line numbered and framed as the service frames it
// (`id: N\ndata: {"level":"info","pos":N,"out":…,"time":…}\n\n`), the push's
// events joined into one buffer and written to every viewer; DELETE sends
// `event: eof` and ends every response. No ring, no cursors, no backpressure
// (a slow viewer's buffer grows): what the same fan-out costs with nothing but
// node:http. Usage: node --import=tsx bench/baseline/sse-fanout-server.ts <port>
import http from 'node:http';
import { sseLineEvent } from '../lib/sse-frame.ts';

const port = Number(process.argv[2]);
const viewers = new Set<http.ServerResponse>();
let seq = 0;
http
  .createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    if (req.url === '/ready') {
      res.end('ok');
      return;
    }
    if (req.method === 'GET') {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      res.write('retry: 2000\n\n');
      viewers.add(res);
      res.on('close', () => viewers.delete(res));
      return;
    }
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      if (req.method === 'PUT') {
        const lines = JSON.parse(Buffer.concat(parts).toString('utf8')) as { out: string }[];
        const time = JSON.stringify(new Date().toISOString());
        let text = '';
        for (const line of lines) {
          const n = seq++;
          text += sseLineEvent(n, line.out, time);
        }
        const events = Buffer.from(text);
        for (const v of viewers) v.write(events);
      } else if (req.method === 'DELETE') {
        for (const v of viewers) v.end('event: eof\ndata: eof\n\n');
      }
      res.writeHead(204);
      res.end();
    });
  })
  .listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
