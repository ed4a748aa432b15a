// Baseline for scribe_log: a bare grpc-js server with one unary method that
// does nothing (raw bytes in, a fixed 6-byte LogResponse{res:"true"} out, no
// protobuf decoding, no auth, no storage). What this machine can do for the
// same calls with no log-service code at all. Prints "ready <port>" once bound.
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';

const port = Number(process.argv[2]);
// LogResponse{res = 1: "true"}: tag 0x0a, length 4.
const ANSWER = Buffer.from([0x0a, 0x04, 0x74, 0x72, 0x75, 0x65]);
const identity = (b: Buffer): Buffer => b;

const server = new Server();
server.addService(
  {
    Log: {
      path: '/com.romanostrechlis.scribe.api.LogScribe/Log',
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  },
  { Log: (_call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => callback(null, ANSWER) },
);
server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err, bound) => {
  if (err) throw err;
  process.stdout.write(`ready ${bound}\n`);
});
process.on('SIGTERM', () => {
  server.forceShutdown();
  process.exit(0);
});
