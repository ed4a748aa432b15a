// Unary gRPC calls with raw bytes (grpc-js makeUnaryRequest with identity
// serializers): the test writes the request message itself (protobuf-wire.ts)
// and reads the answer's bytes, so nothing is generated from the server's .proto.
import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';

export function rawClient(address: string): Client {
  return new Client(address, credentials.createInsecure());
}

const identity = (b: Buffer): Buffer => b;

/** Calls `path` ("/package.Service/Method") with `body`; rejects with the call's ServiceError (code, details, metadata). */
export function callRaw(client: Client, path: string, body: Buffer, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<Buffer> {
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(path, identity, identity, body, metadata, { deadline: Date.now() + timeoutMs }, (err: ServiceError | null, value?: Buffer) =>
      err ? reject(err) : resolve(value ?? Buffer.alloc(0)),
    );
  });
}

/** The error a call ended with (fails the test when it succeeded). */
export async function callError(client: Client, path: string, body: Buffer, headers: Record<string, string> = {}): Promise<ServiceError> {
  try {
    await callRaw(client, path, body, headers);
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error(`${path} succeeded where an error was expected`);
}
