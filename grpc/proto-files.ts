// The repo's .proto files, loaded at run time (docs/GRPC.md): they are the
// documentation of the wire, so the server reads the same files the tests and
// other clients build from, whether it runs from the sources (grpc/) or
// compiled (build/grpc/).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';

/**
 * How messages become objects: field names in camelCase, 64-bit integers as
 * JS numbers (seqs and offsets stay far below 2^53), enums as names, and no
 * filled-in defaults, so an unset `optional` field is told from a zero.
 */
export const PROTO_OPTIONS: Options = { keepCase: false, longs: Number, enums: String, defaults: false, oneofs: true };

/**
 * The package's proto/ directory: next to the package.json named
 * "log-service" above this file (grpc/ in a checkout, build/grpc/ compiled),
 * found the way cmd/main.ts finds the version.
 */
export function protoRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)), up = 0; up < 5; dir = dirname(dir), up++) {
    const pkg = join(dir, 'package.json');
    if (!existsSync(pkg)) continue;
    try {
      const parsed = JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown };
      if (parsed.name === 'log-service' && existsSync(join(dir, 'proto'))) return join(dir, 'proto');
    } catch {
      // not a readable package.json: one level up
    }
  }
  throw new Error('the proto/ directory of log-service was not found next to its package.json');
}

/**
 * Loads `file` (relative to proto/, e.g. "logservice/v1/log_streams.proto").
 * The files of one package are loaded together: reflection keeps one file
 * descriptor per package, so a package loaded in two calls loses one half.
 */
export function loadProto(file: string | string[]): PackageDefinition {
  return loadSync(file, { ...PROTO_OPTIONS, includeDirs: [protoRoot()] });
}
