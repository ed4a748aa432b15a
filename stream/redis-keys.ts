// Key layout of the Redis stream backend (docs/PROTOCOL.md §3, docs/BACKENDS.md). One log stream is two
// keys that share a Cluster hash tag, so a Lua script may touch both:
//
//   <prefix>{<name>}:m   hash: gen, closed, next (seq counter), text (byte
//                        offset of the next line), eb/lo/loe (byte trimming),
//                        ttl (idle expiry in ms)
//   <prefix>{<name>}:s   the Redis stream of lines
//   <prefix>{<name>}:a   the archive writer's lease: the owning instance's id,
//                        with a PX expiry (docs/ARCHIVE.md §5)
//
// `<name>` is `<accountID>/<key>`, so every key of an account starts with
// `<prefix>{<accountID>/` and SCAN MATCH on that finds exactly that account.
// `%`, `{` and `}` in a name are percent-encoded: a brace inside the name would
// otherwise end the hash tag early (Redis Cluster spec: "keys hash tags").

const ENCODE = /[%{}]/g;
const DECODE = /%(25|7B|7D)/g;
/** Redis glob specials (SCAN MATCH uses stringmatchlen). */
const GLOB = /[*?[\]\\]/g;

function encodeName(name: string): string {
  return name.replace(ENCODE, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function decodeName(encoded: string): string {
  return encoded.replace(DECODE, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

export class RedisKeys {
  constructor(readonly prefix: string) {
    if (/[{}]/.test(prefix)) throw new Error(`redis key prefix "${prefix}" must not contain braces (they are the hash tag)`);
  }

  meta(name: string): string {
    return `${this.prefix}{${encodeName(name)}}:m`;
  }

  stream(name: string): string {
    return `${this.prefix}{${encodeName(name)}}:s`;
  }

  lease(name: string): string {
    return `${this.prefix}{${encodeName(name)}}:a`;
  }

  /** SCAN MATCH pattern for the meta keys of every stream whose name starts with `namePrefix`. */
  metaPattern(namePrefix: string): string {
    return `${this.prefix.replace(GLOB, '\\$&')}{${encodeName(namePrefix).replace(GLOB, '\\$&')}*}:m`;
  }

  /** Every key this backend writes under the prefix (tests, cleanup). */
  allPattern(): string {
    return `${this.prefix.replace(GLOB, '\\$&')}{*`;
  }

  /** The stream name of a meta key found by SCAN, or undefined for another key. */
  nameOfMeta(key: string): string | undefined {
    const head = `${this.prefix}{`;
    if (!key.startsWith(head) || !key.endsWith('}:m')) return undefined;
    return decodeName(key.slice(head.length, -3));
  }
}

/**
 * Entry ids: lines of generation `gen` are `<gen>-<seq+1>`, the open marker is
 * `<gen>-0` and the close marker `<gen+1>-0`, so XRANGE seeks by seq directly
 * and the close marker sorts after every line. `gen` is a millisecond clock
 * value bumped past the previous generation on reopen, so a reader can tell a
 * reopened stream's entries from its own.
 */
export function lineId(gen: number, seq: number): string {
  return `${gen}-${seq + 1}`;
}

export function parseId(id: string): { ms: number; seq: number } {
  const dash = id.indexOf('-');
  return { ms: Number(id.slice(0, dash)), seq: Number(id.slice(dash + 1)) };
}
