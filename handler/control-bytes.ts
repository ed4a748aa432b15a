// Whether a push body has a control character (a byte below 0x20) before a
// given end: the one check of sent-scan.ts that reads every byte of a body.
// A regular expression over the body's text read ~0.5 ns a byte, 5 % of the
// server's main thread under ingest; this WebAssembly function compares 16
// bytes at once (SIMD), ~0.06 ns a byte with the copy into its memory
// (BENCHMARKS.md, "ingest: the control-character check in WebAssembly").
//
// The module is small enough to write out by hand, each instruction named
// beside its bytes; no library does this one check, and a WebAssembly
// toolchain for 100 bytes would be a build step of its own.

/** Its memory at first: 320 KiB, room for the biggest body read whole (push-body.ts SMALL_PUSH_BYTES, 256 KiB); grown for a bigger one. */
const INITIAL_PAGES = 5;
const PAGE_BYTES = 65_536;
/** Bytes the function reads past `end` (one 16-byte load): filled with spaces, which are not control characters. */
const LANE_BYTES = 16;
const SPACE = 0x20;

// (func $controls (param $at i32) (param $end i32) (result i32)
//   (block (loop
//     (br_if 1 (i32.ge_u (local.get $at) (local.get $end)))
//     (if (v128.any_true (i8x16.lt_u (v128.load (local.get $at)) (i8x16.splat (i32.const 0x20))))
//       (then (return (i32.const 1))))
//     (local.set $at (i32.add (local.get $at) (i32.const 16)))
//     (br 0)))
//   (i32.const 0))
const FUNCTION_BODY = [
  [0x00], // no locals beyond the two parameters
  [0x02, 0x40], // block
  [0x03, 0x40], // loop
  [0x20, 0x00, 0x20, 0x01, 0x4f, 0x0d, 0x01], // local.get 0, local.get 1, i32.ge_u, br_if 1
  [0x20, 0x00, 0xfd, 0x00, 0x00, 0x00], // local.get 0, v128.load align=1 offset=0
  [0x41, SPACE, 0xfd, 0x0f], // i32.const 0x20, i8x16.splat
  [0xfd, 0x26], // i8x16.lt_u
  [0xfd, 0x53], // v128.any_true
  [0x04, 0x40, 0x41, 0x01, 0x0f, 0x0b], // if, i32.const 1, return, end
  [0x20, 0x00, 0x41, LANE_BYTES, 0x6a, 0x21, 0x00], // local.get 0, i32.const 16, i32.add, local.set 0
  [0x0c, 0x00], // br 0
  [0x0b], // end loop
  [0x0b], // end block
  [0x41, 0x00], // i32.const 0
  [0x0b], // end function
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
  ...section(7, [0x02, ...name('memory'), 0x02, 0x00, ...name('controls'), 0x00, 0x00]), // exports
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

interface ControlScanner {
  memory: WasmMemory;
  bytes: Uint8Array;
  controls: (at: number, end: number) => number;
}

/** Made on the first push scanned, not at start: a server that never takes one holds no module and no memory. */
let scanner: ControlScanner | undefined;

function makeScanner(): ControlScanner {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(MODULE_BYTES));
  const memory = instance.exports.memory as WasmMemory;
  return { memory, bytes: new Uint8Array(memory.buffer), controls: instance.exports.controls as (at: number, end: number) => number };
}

/** Whether any of `body`'s first `end` bytes is below 0x20. */
export function hasControlBytes(body: Uint8Array, end: number): boolean {
  const s = (scanner ??= makeScanner());
  const needed = end + LANE_BYTES;
  if (needed > s.bytes.length) {
    s.memory.grow(Math.ceil((needed - s.bytes.length) / PAGE_BYTES));
    s.bytes = new Uint8Array(s.memory.buffer);
  }
  s.bytes.set(end === body.length ? body : body.subarray(0, end));
  s.bytes.fill(SPACE, end, needed);
  return s.controls(0, end) === 1;
}
