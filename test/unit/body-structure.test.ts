import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { bodyStructure, PAST_END } from '../../handler/body-structure.ts';

/** The oracle, byte by byte: undefined for a control byte before `end`, else where the quotes and backslashes are. */
function expected(body: Buffer, end: number): number[] | undefined {
  const places: number[] = [];
  for (let i = 0; i < end; i++) {
    if (body[i]! < 0x20) return undefined;
    if (body[i] === 0x22 || body[i] === 0x5c) places.push(i);
  }
  return places;
}

function found(body: Buffer, end: number): number[] | undefined {
  const s = bodyStructure(body, end);
  if (s === undefined) return undefined;
  assert.deepEqual(Buffer.from(s.bytes.subarray(0, end)), body.subarray(0, end), 'the body as copied');
  for (let i = end; i < end + 16; i++) assert.equal(s.bytes[i], PAST_END, `byte ${i} past the end`);
  return Array.from(s.places.subarray(s.first, s.first + s.count));
}

describe('bodyStructure (handler/body-structure.ts)', () => {
  it('refuses every control byte at every place around its 16-byte lanes, and no other byte', () => {
    for (let length = 1; length <= 48; length++) {
      for (let at = 0; at < length; at++) {
        for (const byte of [0x00, 0x09, 0x0a, 0x1f, 0x20, 0x21, 0x7f, 0x80, 0xff]) {
          const body = Buffer.alloc(length, 0x61);
          body[at] = byte;
          assert.equal(found(body, length) === undefined, byte < 0x20, `length ${length}, 0x${byte.toString(16)} at ${at}`);
        }
      }
    }
  });

  it('finds every quote and backslash, in order, at every place around its lanes', () => {
    for (let length = 1; length <= 48; length++) {
      for (let at = 0; at < length; at++) {
        const body = Buffer.alloc(length, 0x61);
        body[at] = 0x22;
        body[length - 1 - at] = 0x5c;
        assert.deepEqual(found(body, length), expected(body, length), `length ${length}, at ${at}`);
      }
    }
    const all = Buffer.alloc(40, 0x22);
    assert.deepEqual(found(all, 40), expected(all, 40));
  });

  it('reads only the bytes before `end`, whatever the last call left in its memory', () => {
    const body = Buffer.from('["a"]\n\n\r\t');
    assert.deepEqual(found(body, 5), [1, 3]);
    assert.equal(found(body, 6), undefined);
    const dirty = Buffer.alloc(40, 0x22);
    dirty[20] = 0x01;
    assert.equal(found(dirty, 40), undefined);
    assert.deepEqual(found(Buffer.alloc(17, 0x61), 17), []);
    assert.deepEqual(found(Buffer.alloc(0), 0), []);
  });

  it('answers as the byte-by-byte oracle for random bodies, and for bodies past its first memory (it grows)', () => {
    let seed = 7;
    const random = (n: number) => Math.floor(((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * n);
    const alphabet = [0x22, 0x5c, 0x20, 0x01, 0x1f, 0x7f, 0x80, 0xff, 0x5b, 0x7b];
    for (let i = 0; i < 5000; i++) {
      const body = Buffer.alloc(random(300), 0x78);
      for (let c = random(12); c > 0; c--) body[random(body.length)] = alphabet[random(alphabet.length)]!;
      const end = random(body.length + 1);
      assert.deepEqual(found(body, end), expected(body, end), `body ${i}`);
    }
    const big = Buffer.alloc(3 * 1024 * 1024, 0x78);
    for (let i = 0; i < big.length; i += 1000) big[i] = 0x22;
    assert.deepEqual(found(big, big.length), expected(big, big.length));
    big[big.length - 1] = 0x0a;
    assert.equal(found(big, big.length), undefined);
    // A smaller body after the memory grew.
    assert.deepEqual(found(Buffer.from('"a\\"'), 4), [0, 2, 3]);
  });

  it('holds the biggest body the handler scans (256 KiB, every byte a quote) in its first memory, 1.3 MiB, without growing', function () {
    this.timeout(30_000);
    // In a process of its own: this one's module has grown for the 3 MiB body above.
    const script = [
      `const { bodyStructure } = await import(${JSON.stringify(new URL('../../handler/body-structure.ts', import.meta.url).href)});`,
      `const first = bodyStructure(Buffer.from('[]'), 2).bytes.length;`,
      `const s = bodyStructure(Buffer.alloc(256 * 1024, 0x22), 256 * 1024);`,
      `console.log(s.count, first, s.bytes.length);`,
    ].join('\n');
    const child = spawnSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 25_000 });
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), `${256 * 1024} ${21 * 65_536} ${21 * 65_536}`);
  });

  // A process that cannot run the module leaves every body to the parser instead of failing the push:
  // without WebAssembly (node --jitless), and without SIMD (an x86-64 CPU without SSE4.1, which
  // --no-enable-sse4-1 makes V8 take this one for).
  for (const [flag, what] of [
    ['--jitless', 'without WebAssembly'],
    ['--no-enable-sse4-1', 'without WebAssembly SIMD'],
  ] as const) {
    it(`leaves every body to the parser in a process ${what} (node ${flag}), instead of failing`, function () {
      this.timeout(30_000);
      const script = [
        `const { scanSentBody } = await import(${JSON.stringify(new URL('../../handler/sent-scan.ts', import.meta.url).href)});`,
        `for (const body of ['[{"out":"a"}]', '[\\n{"out":"a"}]']) console.log(scanSentBody(Buffer.from(body), 100, 10) === undefined ? 'left to the parser' : 'scanned');`,
      ].join('\n');
      const child = spawnSync(process.execPath, [flag, '--import=tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 25_000 });
      assert.equal(child.status, 0, child.stderr);
      assert.deepEqual(child.stdout.trim().split('\n'), ['left to the parser', 'left to the parser']);
    });
  }

  it('scans in this process, which runs the module', () => {
    assert.ok(bodyStructure(Buffer.from('[{"out":"a"}]'), 13) !== undefined);
  });
});
