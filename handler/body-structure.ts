// Where a push body's quotes and backslashes are, and whether it has a control
// character (a byte below 0x20), found 16 bytes at a time: the one pass of
// sent-scan.ts that reads every byte of a body. The scan then reads only the
// bytes around those places, from the same memory, so a scanned body is never
// made into a string: a regular expression over the body's Latin-1 text, the
// text itself and V8's searches in it were a tenth of the server's main
// thread under ingest, and the text 40 % of what it allocated (BENCHMARKS.md,
// "ingest: the body's structure found in WebAssembly").
//
// The module is small enough to write out by hand, each instruction named
// beside its bytes, the whole function first in the text format; no library
// does this one pass, and a WebAssembly toolchain for 200 bytes would be a
// build step of its own.

/** Its memory at first (21 pages, 1.3 MiB): room for the biggest body read whole (push-body.ts SMALL_PUSH_BYTES, 256 KiB) and its places; grown for a bigger one. */
const INITIAL_PAGES = 21;
const PAGE_BYTES = 65_536;
/** Bytes the function reads past `end` (its last 16-byte load). */
const LANE_BYTES = 16;
/**
 * What those bytes are: not ASCII, so neither a control character nor a quote
 * or backslash, and nothing the scan takes anywhere; it stops at them.
 */
export const PAST_END = 0xff;

// (func $structure (param $end i32) (param $places i32) (result i32)
//   (local $at i32) (local $mask i32) (local $count i32) (local $v v128)
//   (block (loop
//     (br_if 1 (i32.ge_u (local.get $at) (local.get $end)))
//     (if (v128.any_true (i8x16.lt_u (local.tee $v (v128.load (local.get $at))) (i8x16.splat (i32.const 0x20))))
//       (then (return (i32.const -1))))
//     (local.set $mask (i8x16.bitmask (v128.or
//       (i8x16.eq (local.get $v) (i8x16.splat (i32.const 0x22)))
//       (i8x16.eq (local.get $v) (i8x16.splat (i32.const 0x5c))))))
//     (block (loop
//       (br_if 1 (i32.eqz (local.get $mask)))
//       (i32.store (i32.add (local.get $places) (i32.shl (local.get $count) (i32.const 2)))
//                  (i32.add (local.get $at) (i32.ctz (local.get $mask))))
//       (local.set $count (i32.add (local.get $count) (i32.const 1)))
//       (local.set $mask (i32.and (local.get $mask) (i32.sub (local.get $mask) (i32.const 1))))
//       (br 0)))
//     (local.set $at (i32.add (local.get $at) (i32.const 16)))
//     (br 0)))
//   (local.get $count))
const FUNCTION_BODY = [
  [0x02, 0x03, 0x7f, 0x01, 0x7b], // locals: 3 × i32 ($at 2, $mask 3, $count 4), 1 × v128 ($v 5)
  [0x02, 0x40, 0x03, 0x40], // block, loop
  [0x20, 0x02, 0x20, 0x00, 0x4f, 0x0d, 0x01], // local.get $at, local.get $end, i32.ge_u, br_if 1
  [0x20, 0x02, 0xfd, 0x00, 0x00, 0x00, 0x22, 0x05], // local.get $at, v128.load align=1, local.tee $v
  [0x41, 0x20, 0xfd, 0x0f, 0xfd, 0x26, 0xfd, 0x53], // i32.const 0x20, i8x16.splat, i8x16.lt_u, v128.any_true
  [0x04, 0x40, 0x41, 0x7f, 0x0f, 0x0b], // if, i32.const -1, return, end
  [0x20, 0x05, 0x41, 0x22, 0xfd, 0x0f, 0xfd, 0x23], // local.get $v, i32.const 0x22, i8x16.splat, i8x16.eq
  [0x20, 0x05, 0x41, 0xdc, 0x00, 0xfd, 0x0f, 0xfd, 0x23], // local.get $v, i32.const 0x5c (signed LEB128), i8x16.splat, i8x16.eq
  [0xfd, 0x50, 0xfd, 0x64, 0x21, 0x03], // v128.or, i8x16.bitmask, local.set $mask
  [0x02, 0x40, 0x03, 0x40], // block, loop
  [0x20, 0x03, 0x45, 0x0d, 0x01], // local.get $mask, i32.eqz, br_if 1
  [0x20, 0x01, 0x20, 0x04, 0x41, 0x02, 0x74, 0x6a], // local.get $places, local.get $count, i32.const 2, i32.shl, i32.add
  [0x20, 0x02, 0x20, 0x03, 0x68, 0x6a], // local.get $at, local.get $mask, i32.ctz, i32.add
  [0x36, 0x02, 0x00], // i32.store align=4
  [0x20, 0x04, 0x41, 0x01, 0x6a, 0x21, 0x04], // local.get $count, i32.const 1, i32.add, local.set $count
  [0x20, 0x03, 0x20, 0x03, 0x41, 0x01, 0x6b, 0x71, 0x21, 0x03], // local.get $mask ×2, i32.const 1, i32.sub, i32.and, local.set $mask
  [0x0c, 0x00, 0x0b, 0x0b], // br 0, end loop, end block
  [0x20, 0x02, 0x41, LANE_BYTES, 0x6a, 0x21, 0x02], // local.get $at, i32.const 16, i32.add, local.set $at
  [0x0c, 0x00, 0x0b, 0x0b], // br 0, end loop, end block
  [0x20, 0x04, 0x0b], // local.get $count, end function
].flat();

/** Every section here is under 128 bytes, so its size is one byte of LEB128. */
function section(id: number, content: number[]): number[] {
  return [id, content.length, ...content];
}

function name(text: string): number[] {
  return [text.length, ...Buffer.from(text, 'latin1')];
}

const MODULE_BYTES = Uint8Array.from([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
  ...section(1, [0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f]), // one type: (i32, i32) -> i32
  ...section(3, [0x01, 0x00]), // one function, of type 0
  ...section(5, [0x01, 0x00, INITIAL_PAGES]), // one memory, no maximum
  ...section(7, [0x02, ...name('memory'), 0x02, 0x00, ...name('structure'), 0x00, 0x00]), // exports
  ...section(10, [0x01, FUNCTION_BODY.length, ...FUNCTION_BODY]), // the function's code
]);

// @types/node 20 leaves WebAssembly's types to TypeScript's DOM library, which
// the server does not load: what this module uses of the global, declared here.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
};

/** A body's bytes and the places of its quotes and backslashes, in the module's memory: valid until the next call. */
export interface BodyStructure {
  /** The body's first `end` bytes, then LANE_BYTES of PAST_END (and, beyond them, whatever an earlier call left). */
  bytes: Uint8Array;
  /** From `first`, `count` places, in order: where each quote and backslash is. */
  places: Int32Array;
  first: number;
  count: number;
}

interface Finder {
  memory: WasmMemory;
  structure: (end: number, places: number) => number;
  /** Reused from call to call: the scan runs to its end without yielding. */
  result: BodyStructure;
}

/**
 * Made on the first push scanned, not at start: a server that never takes one
 * holds no module and no memory. Null in a process that cannot run it: no
 * WebAssembly at all (`node --jitless`), or no SIMD (an x86-64 CPU without
 * SSE4.1, such as QEMU's default model): then no body is scanned, every one is parsed.
 */
let finder: Finder | null | undefined;

function makeFinder(): Finder | null {
  if (typeof WebAssembly === 'undefined') return null;
  let instance: { exports: Record<string, unknown> };
  try {
    instance = new WebAssembly.Instance(new WebAssembly.Module(MODULE_BYTES));
  } catch {
    return null; // CompileError: "Wasm SIMD unsupported"
  }
  const memory = instance.exports.memory as WasmMemory;
  const structure = instance.exports.structure as (end: number, places: number) => number;
  return { memory, structure, result: views(memory) };
}

function views(memory: WasmMemory): BodyStructure {
  return { bytes: new Uint8Array(memory.buffer), places: new Int32Array(memory.buffer), first: 0, count: 0 };
}

/**
 * `body`'s first `end` bytes and where its quotes and backslashes are, or
 * undefined when one of those bytes is below 0x20 (or the process cannot run the module: makeFinder).
 */
export function bodyStructure(body: Uint8Array, end: number): BodyStructure | undefined {
  if (finder === undefined) finder = makeFinder();
  const f = finder;
  if (f === null) return undefined;
  // The places go after the body and its lane, 4-byte aligned; at most one for each byte.
  const placesAt = (end + LANE_BYTES + 3) & ~3;
  const needed = placesAt + 4 * (end + LANE_BYTES);
  if (needed > f.result.bytes.length) {
    f.memory.grow(Math.ceil((needed - f.result.bytes.length) / PAGE_BYTES));
    f.result = views(f.memory);
  }
  const result = f.result;
  result.bytes.set(end === body.length ? body : body.subarray(0, end));
  result.bytes.fill(PAST_END, end, end + LANE_BYTES);
  const count = f.structure(end, placesAt);
  if (count < 0) return undefined;
  result.first = placesAt / 4;
  result.count = count;
  return result;
}
