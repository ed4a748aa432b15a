import assert from 'node:assert/strict';
import { hasControlBytes } from '../../handler/control-bytes.ts';

// The oracle: what the regular expression the check replaced answered.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f]/;
const oracle = (body: Buffer, end: number) => CONTROL.test(body.toString('latin1', 0, end));

describe('hasControlBytes', () => {
  it('finds every control byte at every place around the 16-byte lanes, and no other byte', () => {
    for (let length = 1; length <= 48; length++) {
      for (let at = 0; at < length; at++) {
        for (const byte of [0x00, 0x09, 0x0a, 0x1f, 0x20, 0x21, 0x7f, 0x80, 0xff]) {
          const body = Buffer.alloc(length, 0x61);
          body[at] = byte;
          assert.equal(hasControlBytes(body, length), byte < 0x20, `length ${length}, 0x${byte.toString(16)} at ${at}`);
        }
      }
    }
  });

  it('reads only the bytes before `end`, whatever the last call left in its memory', () => {
    const body = Buffer.from('["a"]\n\n\r\t');
    assert.equal(hasControlBytes(body, 5), false);
    assert.equal(hasControlBytes(body, 6), true);
    // A body with a control byte at 20, then a shorter clean one: the first one's bytes are not read again.
    const dirty = Buffer.alloc(40, 0x61);
    dirty[20] = 0x01;
    assert.equal(hasControlBytes(dirty, 40), true);
    assert.equal(hasControlBytes(Buffer.alloc(17, 0x61), 17), false);
    assert.equal(hasControlBytes(Buffer.alloc(0), 0), false);
  });

  it('answers as the regular expression did for random bodies, and for bodies past its first memory (it grows)', () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 2000; i++) {
      const body = Buffer.alloc(1 + Math.floor(random() * 300), 0x78);
      const changes = Math.floor(random() * 3);
      for (let c = 0; c < changes; c++) body[Math.floor(random() * body.length)] = Math.floor(random() * 0x40);
      const end = Math.floor(random() * (body.length + 1));
      assert.equal(hasControlBytes(body, end), oracle(body, end), `body ${i}`);
    }
    const big = Buffer.alloc(1024 * 1024, 0x78);
    assert.equal(hasControlBytes(big, big.length), false);
    big[big.length - 1] = 0x0a;
    assert.equal(hasControlBytes(big, big.length), true);
    assert.equal(hasControlBytes(big, big.length - 1), false);
  });
});
