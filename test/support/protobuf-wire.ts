// A tiny protobuf encoder/decoder (https://protobuf.dev/programming-guides/encoding/)
// for tests that must not share the server's .proto files: go-scribe's messages
// are written here from their field numbers alone, and answers read back the same
// way. Only what those messages use: varints (int32, int64, bool, enum) and
// length-delimited fields (string, bytes, nested messages).

export type Field = [field: number, value: string | number | boolean | Buffer];

function varint(value: bigint): Buffer {
  // int32/int64 negatives are 10-byte two's-complement varints.
  let v = value < 0n ? value + (1n << 64n) : value;
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return Buffer.from(out);
}

/** Encodes fields in the order given (strings and Buffers length-delimited, numbers and booleans as varints). */
export function encode(fields: Field[]): Buffer {
  const parts: Buffer[] = [];
  for (const [field, value] of fields) {
    if (typeof value === 'string' || Buffer.isBuffer(value)) {
      const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
      parts.push(varint(BigInt((field << 3) | 2)), varint(BigInt(bytes.length)), bytes);
    } else {
      parts.push(varint(BigInt(field << 3)), varint(BigInt(typeof value === 'boolean' ? Number(value) : value)));
    }
  }
  return Buffer.concat(parts);
}

/** Every field of a message: varints as bigint, length-delimited fields as Buffers (decode them again for nested messages). */
export function decode(bytes: Buffer): Map<number, (bigint | Buffer)[]> {
  const fields = new Map<number, (bigint | Buffer)[]>();
  let at = 0;
  const readVarint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (at >= bytes.length) throw new Error('truncated varint');
      const byte = bytes[at++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (at < bytes.length) {
    const tag = Number(readVarint());
    const field = tag >>> 3;
    const wire = tag & 7;
    let value: bigint | Buffer;
    if (wire === 0) value = readVarint();
    else if (wire === 2) {
      const length = Number(readVarint());
      value = bytes.subarray(at, at + length);
      at += length;
    } else throw new Error(`wire type ${wire} is not used by these messages`);
    fields.set(field, [...(fields.get(field) ?? []), value]);
  }
  return fields;
}

/** The string in `field` ("" when absent, as proto3 reads it). */
export function text(fields: Map<number, (bigint | Buffer)[]>, field: number): string {
  const value = fields.get(field)?.[0];
  return value === undefined ? '' : (value as Buffer).toString('utf8');
}

/** The int32 in `field` (0 when absent). */
export function int32(fields: Map<number, (bigint | Buffer)[]>, field: number): number {
  const value = fields.get(field)?.[0];
  return value === undefined ? 0 : Number(BigInt.asIntN(32, value as bigint));
}
