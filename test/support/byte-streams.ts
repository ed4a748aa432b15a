// Deterministic byte sources for tests: large bodies without holding them in memory.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

/** `total` pseudo-random bytes (xorshift), in 64 KiB pieces, reproducible from `seed`. */
export function patternStream(total: number, seed = 1, failAfter?: number): Readable {
  let sent = 0;
  let x = seed >>> 0 || 1;
  return new Readable({
    read() {
      if (failAfter !== undefined && sent >= failAfter) {
        this.destroy(new Error('source failed on purpose'));
        return;
      }
      if (sent >= total) {
        this.push(null);
        return;
      }
      const n = Math.min(65536, total - sent);
      const buf = Buffer.alloc(n);
      for (let i = 0; i + 4 <= n; i += 4) {
        x ^= x << 13;
        x >>>= 0;
        x ^= x >>> 17;
        x ^= x << 5;
        x >>>= 0;
        buf.writeUInt32LE(x, i);
      }
      sent += n;
      this.push(buf);
    },
  });
}

export async function sha256Of(source: AsyncIterable<Buffer | Uint8Array | string>): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of source) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    hash.update(buf);
    bytes += buf.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

export async function collect(source: AsyncIterable<Buffer | Uint8Array | string>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of source) parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(parts);
}
