// The bounds of one Push message, checked on its bytes before protobufjs
// decodes it (docs/GRPC.md, "Flow control"). A 4 MiB message of empty
// `lines` entries is 2 million objects once decoded: about 400 MB and seconds
// of one thread, which a caller without a valid token could ask for, since
// grpc-js decodes a message before the handler sees it. Counting the entries
// on the wire costs one pass over the tags and allocates nothing.
import { ServiceError } from '../foundation/errors.ts';

/** Lines one Push message may carry. */
const PUSH_BATCH_LINES = 10_000;
/** `args` entries one line may carry (its JSON is bounded again, at 16 KiB, by checkLine). */
const PUSH_LINE_ARGS = 256;

/** PushRequest.lines and LineInput.args (proto/logservice/v1/log_streams.proto). */
const LINES_FIELD = 3;
const ARGS_FIELD = 4;
const LENGTH_DELIMITED = 2;

/** What the Push deserializer hands on instead of a message it refused to decode. */
export interface RefusedPushMessage {
  refused: ServiceError;
}

export function isRefused(message: object): message is RefusedPushMessage {
  return 'refused' in message && message.refused instanceof Error;
}

/** Wraps PushRequest's deserializer: a message over the bounds is refused, not decoded. */
export function boundedPushDeserializer<T extends object>(decode: (bytes: Buffer) => T): (bytes: Buffer) => T | RefusedPushMessage {
  return (bytes) => {
    const refused = pushMessageProblem(bytes);
    return refused === undefined ? decode(bytes) : { refused };
  };
}

/** Why `bytes` must not be decoded, or undefined. Malformed bytes are left to the decoder, which refuses them. */
export function pushMessageProblem(bytes: Buffer): ServiceError | undefined {
  let lines = 0;
  const problem = eachField(bytes, 0, bytes.length, (field, start, end) => {
    if (field !== LINES_FIELD) return undefined;
    if (++lines > PUSH_BATCH_LINES) {
      return new ServiceError('LOGSVC_BODY_TOO_LARGE', `a Push message holds at most ${PUSH_BATCH_LINES} lines: split the batch`);
    }
    let args = 0;
    return eachField(bytes, start, end, (inner) =>
      inner === ARGS_FIELD && ++args > PUSH_LINE_ARGS
        ? new ServiceError('LOGSVC_INVALID_LINE', `line ${lines - 1}: "args" holds more than ${PUSH_LINE_ARGS} entries`)
        : undefined,
    );
  });
  return problem === 'malformed' ? undefined : problem;
}

type Visit = (field: number, start: number, end: number) => ServiceError | 'malformed' | undefined;

/** Calls `visit` for each length-delimited field in bytes[from, to); stops at its first answer. */
function eachField(bytes: Buffer, from: number, to: number, visit: Visit): ServiceError | 'malformed' | undefined {
  let at = from;
  while (at < to) {
    const tag = readVarint(bytes, at, to);
    if (tag === undefined) return 'malformed';
    at = tag.next;
    const wireType = tag.value % 8;
    const field = Math.floor(tag.value / 8);
    if (wireType === 0) {
      const skipped = readVarint(bytes, at, to);
      if (skipped === undefined) return 'malformed';
      at = skipped.next;
    } else if (wireType === 1) {
      at += 8;
    } else if (wireType === 5) {
      at += 4;
    } else if (wireType === LENGTH_DELIMITED) {
      const length = readVarint(bytes, at, to);
      if (length === undefined || length.next + length.value > to) return 'malformed';
      const answer = visit(field, length.next, length.next + length.value);
      if (answer !== undefined) return answer;
      at = length.next + length.value;
    } else {
      return 'malformed';
    }
  }
  return at === to ? undefined : 'malformed';
}

/** A varint of at most 7 bytes (49 bits: every length and tag a 4 MiB message can hold). */
function readVarint(bytes: Buffer, at: number, to: number): { value: number; next: number } | undefined {
  let value = 0;
  for (let shift = 0, i = at; i < to && shift < 49; shift += 7, i++) {
    const byte = bytes[i]!;
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return { value, next: i + 1 };
  }
  return undefined;
}
