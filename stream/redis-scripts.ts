// Lua scripts of the Redis stream backend. Each write (open, push batch, close)
// is one script call: one round trip, atomic, and the same result on every
// instance (docs/BACKENDS.md: "writes of a batch in one round trip", "seq is the same
// on every instance"). Both keys of a stream are passed in KEYS and share a
// hash tag, so the scripts run unchanged on Redis Cluster.
//
// KEYS[1] = meta hash, KEYS[2] = stream (see redis-keys.ts for the layout).
import type { Cluster, Redis } from 'ioredis';
import { TextGuardConflict } from './text-append.ts';

/**
 * ARGV: ttlMs, nowMs, keepOpen ('1' or '0'). Returns 1, or 0 when keepOpen
 * found the stream open and left it alone. Otherwise whatever was under the
 * name — an open stream (Harness resets it on a second open), a closed or
 * half-expired one — is replaced: old keys deleted, a new generation (> old
 * gen + 1) starts at seq 0. Readers of the old generation see entries of a
 * newer one and follow it (redis-stream-watch.ts). The open marker creates the
 * stream key, so pushes can use NOMKSTREAM.
 */
const OPEN = `
local st = redis.call('HMGET', KEYS[1], 'gen', 'closed')
if ARGV[3] == '1' and st[2] == '0' and redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local gen = tonumber(ARGV[2])
if st[1] and tonumber(st[1]) + 2 > gen then gen = tonumber(st[1]) + 2 end
local g = string.format('%d', gen)
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], 'gen', g, 'closed', '0', 'next', '0', 'text', '0', 'eb', '0', 'lo', '0', 'loe', '0', 'ttl', ARGV[1])
redis.call('XADD', KEYS[2], g .. '-0', 'k', 'open')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return 1
`;

/**
 * ARGV: maxLines, maxBytes, notifyChannel ('' for none), skipLines,
 * skipTextBytes (older lines of the push left out: seqs and text offsets
 * jump by them, and every retained line is trimmed), pushId ('' for none:
 * a push whose id this generation already took is not stored again, and
 * answers {-2, its first seq}; the last 256 ids are remembered), textEnd,
 * pending, next (a byte append's guard, stream/text-append.ts: when textEnd is
 * not '', the push is stored only if the stream's text end is textEnd and its
 * held partial line ('pend') is pending, and 'pend' becomes next; otherwise
 * it answers {-3} and stores nothing), then per line
 * (head, tail, textBytes): the line JSON is head .. seq .. tail when tail is
 * not empty (the producer gave no pos, so pos = seq), else head alone.
 * Returns {first seq, text offset of the first line, gen}, or {-1} when the
 * stream is not open.
 *
 * Entry fields: j = line JSON, o = text offset, t = text bytes, b = encoded
 * event bytes before this line (cumulative), used to trim by bytes.
 * Each XADD carries MAXLEN ~ (maxLines + 2) as a cap; XTRIM MINID at the end
 * trims exactly.
 */
const PUSH = `
local m = redis.call('HMGET', KEYS[1], 'gen', 'closed', 'next', 'text', 'eb', 'lo', 'loe', 'ttl')
if not m[1] or m[2] == '1' or redis.call('EXISTS', KEYS[2]) == 0 then return {-1} end
local gen = m[1]
local pushId = ARGV[6]
if pushId ~= '' then
  local seen = redis.call('HGET', KEYS[1], 'p:' .. pushId)
  if seen then return {-2, tonumber(seen)} end
end
if ARGV[7] ~= '' then
  local pend = redis.call('HGET', KEYS[1], 'pend')
  if not pend then pend = '' end
  if tonumber(m[4]) ~= tonumber(ARGV[7]) or pend ~= ARGV[8] then return {-3} end
  redis.call('HSET', KEYS[1], 'pend', ARGV[9])
end
local skip = tonumber(ARGV[4])
local first = tonumber(m[3]) + skip
local result = {first, tonumber(m[4]) + tonumber(ARGV[5]), tonumber(gen)}
redis.call('PEXPIRE', KEYS[1], m[8])
redis.call('PEXPIRE', KEYS[2], m[8])
if #ARGV < 12 then return result end
local seq, text, eb = first, tonumber(m[4]) + tonumber(ARGV[5]), tonumber(m[5])
-- Safety cap (docs/BACKENDS.md "XADD … MAXLEN ~"): bounds the stream while a batch
-- larger than maxLines is being added, before the exact trim below runs. It
-- must never cut a line that the exact trim keeps, and it cannot:
-- * MAXLEN ~ N removes only whole oldest radix-tree nodes and never leaves
--   fewer than the newest N entries;
-- * the exact trim keeps at most the newest maxLines lines (fewer under
--   maxBytes), and startOf() below only reads lines among those;
-- * every entry newer than a retained line is a line: the open marker
--   ('<gen>-0') is always the oldest entry and the close marker is never
--   present while the stream is open (CLOSE adds it, OPEN deletes both keys).
-- So N = maxLines would already do; N = maxLines + 2 also counts both markers
-- as if they were present, so a stream holding maxLines lines plus its
-- markers is never touched by the cap, even if it were exact (no '~'). The
-- exact MINID trim stays the authority on retention, and 'lo' with it.
local cap = string.format('%d', tonumber(ARGV[1]) + 2)
for i = 10, #ARGV, 3 do
  local s = string.format('%d', seq)
  local json = ARGV[i]
  if ARGV[i + 1] ~= '' then json = json .. s .. ARGV[i + 1] end
  redis.call('XADD', KEYS[2], 'NOMKSTREAM', 'MAXLEN', '~', cap, gen .. '-' .. string.format('%d', seq + 1),
    'j', json, 'o', string.format('%d', text), 't', ARGV[i + 2], 'b', string.format('%d', eb))
  -- the SSE event is "id: <seq>\\ndata: <json>\\n\\n" (line-codec.ts encodeLine)
  eb = eb + 13 + #s + #json
  text = text + tonumber(ARGV[i + 2])
  seq = seq + 1
end
-- Retention: at most maxLines lines, then at most maxBytes of events (always
-- keeping the newest line). lo = first retained seq, loe = its 'b'.
local maxLines, maxBytes = tonumber(ARGV[1]), tonumber(ARGV[2])
local lo, loe = tonumber(m[6]), tonumber(m[7])
local oldLo = lo
-- Skipped lines: nothing before this push's first kept line is retained.
if skip > 0 then lo = first; loe = tonumber(m[5]) end
local function startOf(q)
  local id = gen .. '-' .. string.format('%d', q + 1)
  local r = redis.call('XRANGE', KEYS[2], id, id)
  return tonumber(r[1][2][8])
end
local newLo, newLoe = lo, loe
if seq - maxLines > newLo then newLo = seq - maxLines; newLoe = startOf(newLo) end
if eb - newLoe > maxBytes then
  -- smallest q with startOf(q) >= eb - maxBytes: binary search, O(log n) seeks
  local a, z, target = newLo + 1, seq - 1, eb - maxBytes
  while a < z do
    local mid = math.floor((a + z) / 2)
    if startOf(mid) >= target then z = mid else a = mid + 1 end
  end
  newLo = a
  newLoe = startOf(a)
end
if newLo ~= oldLo then
  redis.call('XTRIM', KEYS[2], 'MINID', gen .. '-' .. string.format('%d', newLo + 1))
end
redis.call('HSET', KEYS[1], 'next', string.format('%d', seq), 'text', string.format('%d', text),
  'eb', string.format('%d', eb), 'lo', string.format('%d', newLo), 'loe', string.format('%d', newLoe))
if pushId ~= '' then
  local n = redis.call('HINCRBY', KEYS[1], 'pn', 1)
  local slot = 'ps:' .. string.format('%d', n % 256)
  local old = redis.call('HGET', KEYS[1], slot)
  if old then redis.call('HDEL', KEYS[1], 'p:' .. old) end
  redis.call('HSET', KEYS[1], slot, pushId, 'p:' .. pushId, string.format('%d', first))
end
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], KEYS[2]) end
return result
`;

/**
 * ARGV: graceMs, notifyChannel, whole ('1': refuse with -2 while a byte
 * append's partial line is held, so the caller pushes it first). Marks the stream closed, appends the close
 * marker (which wakes every blocking reader) and shortens every key's expiry
 * to the grace period. Returns the final seq count, or -1 when not open.
 */
const CLOSE = `
local m = redis.call('HMGET', KEYS[1], 'gen', 'closed', 'next')
if not m[1] or m[2] == '1' then return -1 end
if ARGV[3] == '1' then
  local pend = redis.call('HGET', KEYS[1], 'pend')
  if pend and pend ~= '' then return -2 end
end
redis.call('HSET', KEYS[1], 'closed', '1')
redis.call('XADD', KEYS[2], 'NOMKSTREAM', string.format('%d', tonumber(m[1]) + 1) .. '-0', 'k', 'close', 'n', m[3])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], KEYS[2]) end
return tonumber(m[3])
`;

type ScriptArg = string | number | Buffer;
type ScriptFn = (...args: ScriptArg[]) => Promise<unknown>;

/** The three scripts, loaded once per client (ioredis sends EVALSHA, falling back to EVAL on NOSCRIPT). */
export class StreamScripts {
  private readonly fns: { open: ScriptFn; push: ScriptFn; close: ScriptFn };

  constructor(client: Redis | Cluster) {
    client.defineCommand('logsvcOpen', { numberOfKeys: 2, lua: OPEN });
    client.defineCommand('logsvcPush', { numberOfKeys: 2, lua: PUSH });
    client.defineCommand('logsvcClose', { numberOfKeys: 2, lua: CLOSE });
    const bound = client as unknown as Record<string, ScriptFn>;
    const get = (name: string): ScriptFn => {
      const fn = bound[name];
      if (fn === undefined) throw new Error(`ioredis did not define ${name}`);
      return fn.bind(client);
    };
    this.fns = { open: get('logsvcOpen'), push: get('logsvcPush'), close: get('logsvcClose') };
  }

  /** False when `keepOpen` found the stream open and left it as it was. */
  async open(meta: string, stream: string, ttlMs: number, nowMs: number, keepOpen: boolean): Promise<boolean> {
    return Number(await this.fns.open(meta, stream, ttlMs, nowMs, keepOpen ? '1' : '0')) === 1;
  }

  /** Undefined when the stream is not open. */
  /** undefined: the stream is not open; `duplicate`: the push id was already taken (nothing stored). */
  async push(meta: string, stream: string, args: ScriptArg[]): Promise<{ first: number; textStart: number; gen: number } | { duplicate: number } | undefined> {
    const reply = (await this.fns.push(meta, stream, ...args)) as number[];
    const [first, textStart, gen] = reply.map(Number);
    if (first === -3) throw new TextGuardConflict();
    if (first === -2 && textStart !== undefined) return { duplicate: textStart };
    if (first === undefined || first < 0 || textStart === undefined || gen === undefined) return undefined;
    return { first, textStart, gen };
  }

  /** The final seq count; -1 when not open, -2 while a partial line is held (it must be pushed first). */
  async close(meta: string, stream: string, graceMs: number, notify: string): Promise<number> {
    return Number(await this.fns.close(meta, stream, graceMs, notify, '1'));
  }
}
