// rate_fanout's baseline: a bare node:http server that fans each text PUT out
// to raw readers and SSE viewers at once. A GET of `/stream/raw…` is a raw
// reader (the pushed bytes as they are); any other GET an SSE viewer (each
// line numbered and framed as the service frames it: `id: N\ndata:
// {"level":"info","pos":N,"out":…,"time":…}\n\n`). Each PUT's body, when
// whole, is written as one buffer to every raw reader and its events as one
// buffer to every viewer, then answered 204; DELETE ends every response
// (viewers get `event: eof`), and a GET after it gets the
// end at once. No ring, no archive, no cursors, no
// backpressure (a slow reader's buffer grows): the floor of the same fan-out
// in Node on these cores, so the service's latency has a figure to stand
// beside. Usage: node --import=tsx bench/baseline/rate-fanout-server.ts <port>
import http from 'node:http';
import { sseLineEvent } from '../lib/sse-frame.ts';

const port = Number(process.argv[2]);
const rawReaders = new Set<http.ServerResponse>();
const viewers = new Set<http.ServerResponse>();
let seq = 0;
/** After DELETE: a reader that asks again (a raw reader checks it has the end) gets an empty, ended response. */
let closed = false;

function sseEvents(body: string): Buffer {
  const time = JSON.stringify(new Date().toISOString());
  let text = '';
  let from = 0;
  while (from < body.length) {
    const nl = body.indexOf('\n', from);
    const end = nl === -1 ? body.length : nl + 1;
    const n = seq++;
    text += sseLineEvent(n, body.slice(from, end), time);
    from = end;
  }
  return Buffer.from(text);
}

http
  .createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    if (req.url === '/ready') {
      res.end('ok');
      return;
    }
    if (req.method === 'GET') {
      const raw = req.url?.startsWith('/stream/raw') === true;
      res.writeHead(200, raw ? { 'Content-Type': 'text/plain; charset=utf-8', 'X-Log-Offset': '0' } : { 'Content-Type': 'text/event-stream' });
      if (closed) {
        res.end(raw ? undefined : 'event: eof\ndata: eof\n\n');
        return;
      }
      if (raw) res.flushHeaders();
      else res.write('retry: 2000\n\n');
      const set = raw ? rawReaders : viewers;
      set.add(res);
      res.on('close', () => set.delete(res));
      return;
    }
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      if (req.method === 'PUT') {
        const body = Buffer.concat(parts);
        for (const r of rawReaders) r.write(body);
        const events = sseEvents(body.toString('utf8'));
        for (const v of viewers) v.write(events);
      } else if (req.method === 'DELETE') {
        closed = true;
        for (const r of rawReaders) r.end();
        for (const v of viewers) v.end('event: eof\ndata: eof\n\n');
      }
      res.writeHead(204);
      res.end();
    });
  })
  .listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
