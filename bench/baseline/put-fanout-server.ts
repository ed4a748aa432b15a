// raw_fanout's baseline: a bare node:http server that pipes every PUT body to
// every open GET response (the raw readers), with backpressure: the request is
// paused while any response's buffer is full, as `pipe` to several
// destinations would. POST answers 204; DELETE ends every response. No
// stream, no ring, no offsets: the floor of fanning the writer's bytes out in
// Node over loopback. With `end-with-put`, livelog_fanout's baseline: one long
// PUT whose end ends the readers.
// Usage: node --import=tsx bench/baseline/put-fanout-server.ts <port> [end-with-put]
import http from 'node:http';

const port = Number(process.argv[2]);
/** `end-with-put` (livelog_fanout's baseline): the PUT's end ends every reader, and is answered 201, as livelog does. */
const endWithPut = process.argv[3] === 'end-with-put';
const readers = new Set<http.ServerResponse>();
http
  .createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    if (req.url === '/ready') {
      res.end('ok');
      return;
    }
    if (req.method === 'GET') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache', 'X-Log-Offset': '0' });
      res.flushHeaders();
      readers.add(res);
      res.on('close', () => readers.delete(res));
      return;
    }
    if (req.method === 'PUT') {
      let waiting = 0;
      const drained = () => {
        if (--waiting === 0) req.resume();
      };
      req.on('data', (chunk: Buffer) => {
        for (const r of readers) {
          if (!r.write(chunk)) {
            waiting++;
            r.once('drain', drained);
          }
        }
        if (waiting > 0) req.pause();
      });
      req.on('end', () => {
        if (endWithPut) for (const r of readers) r.end();
        res.writeHead(endWithPut ? 201 : 204);
        res.end();
      });
      return;
    }
    req.resume();
    req.on('end', () => {
      if (req.method === 'DELETE') for (const r of readers) r.end();
      res.writeHead(204);
      res.end();
    });
  })
  .listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
