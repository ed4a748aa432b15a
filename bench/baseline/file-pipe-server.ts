// tailsrv_fanout's baseline: a bare node:net server that pipes one finished
// file to every connection (fs.createReadStream(file).pipe(socket)), ignoring
// what the client sends. No header, no following, no sharing: the floor of
// what serving the same bytes over loopback costs in Node.
// Usage: node --import=tsx bench/baseline/file-pipe-server.ts <port> <file>
import { createReadStream } from 'node:fs';
import { createServer } from 'node:net';

const port = Number(process.argv[2]);
const file = process.argv[3]!;
const server = createServer((socket) => {
  socket.on('error', () => {});
  socket.resume();
  createReadStream(file).pipe(socket);
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
