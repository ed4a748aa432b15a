// The Range header of a blob download (handler/byte-range.ts, RFC 9110 §14).
import assert from 'node:assert/strict';
import { parseRange } from '../../handler/byte-range.ts';
import { ServiceError } from '../../foundation/errors.ts';

/** Asserts that parsing throws the 416 error, carrying the blob's size. */
function assertUnsatisfiable(header: string, size: number): void {
  assert.throws(
    () => parseRange(header, size),
    (err: unknown) => {
      assert.ok(err instanceof ServiceError);
      assert.equal(err.code, 'LOGSVC_RANGE_NOT_SATISFIABLE');
      assert.equal(err.status, 416);
      assert.equal(err.message, `the range is outside the blob (size ${size} bytes)`);
      assert.equal((err as ServiceError & { size?: number }).size, size);
      return true;
    },
  );
}

describe('parseRange', () => {
  describe('without a usable header', () => {
    it('serves the whole blob when there is no Range header', () => {
      assert.equal(parseRange(undefined, 100), undefined);
    });

    it('ignores malformed values instead of failing the download (§14.2)', () => {
      for (const header of [
        '',
        'bytes',
        'bytes=',
        'bytes=-',
        'bytes = - ',
        'bytes=a-b',
        'bytes=1-x',
        'bytes=--1',
        'bytes=1--2',
        'bytes=+1-2',
        'bytes=1.5-2',
        'items=0-1',
        'bytes:0-1',
        '0-1',
        'bytes=0x10-',
        'bytes=-1-2',
        'bytes=1-2-3',
      ]) {
        assert.equal(parseRange(header, 100), undefined, JSON.stringify(header));
      }
    });

    it('ignores a header with several ranges and sends the whole blob, as §14.2 allows', () => {
      assert.equal(parseRange('bytes=0-1,5-6', 100), undefined);
      assert.equal(parseRange('bytes=0-1, 5-6', 100), undefined);
      assert.equal(parseRange('bytes=-5,0-1', 100), undefined);
      // Even when one of them alone would be unsatisfiable.
      assert.equal(parseRange('bytes=500-600,0-1', 100), undefined);
    });

    it('ignores an invalid range whose last byte is before its first, even when it also starts past the end', () => {
      assert.equal(parseRange('bytes=5-4', 100), undefined);
      assert.equal(parseRange('bytes=500-400', 100), undefined);
    });
  });

  describe('int-range bytes=first-last', () => {
    it('gives the inclusive range asked for', () => {
      assert.deepEqual(parseRange('bytes=0-0', 100), { start: 0, end: 0 });
      assert.deepEqual(parseRange('bytes=10-19', 100), { start: 10, end: 19 });
      assert.deepEqual(parseRange('bytes=99-99', 100), { start: 99, end: 99 });
    });

    it('clamps a last byte past the end to the last byte of the blob (§14.1.2)', () => {
      assert.deepEqual(parseRange('bytes=90-1000', 100), { start: 90, end: 99 });
      assert.deepEqual(parseRange('bytes=0-100', 100), { start: 0, end: 99 });
    });

    it('reads leading zeros as decimal', () => {
      assert.deepEqual(parseRange('bytes=007-010', 100), { start: 7, end: 10 });
    });

    it('is 416 when the first byte is at or past the end of the blob', () => {
      assertUnsatisfiable('bytes=100-200', 100);
      assertUnsatisfiable('bytes=100-100', 100);
      assertUnsatisfiable('bytes=150-', 100);
    });
  });

  describe('open range bytes=first-', () => {
    it('runs to the end of the blob', () => {
      assert.deepEqual(parseRange('bytes=0-', 100), { start: 0, end: 99 });
      assert.deepEqual(parseRange('bytes=42-', 100), { start: 42, end: 99 });
      assert.deepEqual(parseRange('bytes=99-', 100), { start: 99, end: 99 });
    });

    it('is 416 when it starts exactly at the end', () => {
      assertUnsatisfiable('bytes=100-', 100);
    });
  });

  describe('suffix range bytes=-N', () => {
    it('gives the last N bytes', () => {
      assert.deepEqual(parseRange('bytes=-1', 100), { start: 99, end: 99 });
      assert.deepEqual(parseRange('bytes=-30', 100), { start: 70, end: 99 });
      assert.deepEqual(parseRange('bytes=-100', 100), { start: 0, end: 99 });
    });

    it('gives the whole blob when N is more than its size (§14.1.2)', () => {
      assert.deepEqual(parseRange('bytes=-500', 100), { start: 0, end: 99 });
    });

    it('is 416 for a zero suffix length (not satisfiable by §14.1.1)', () => {
      assertUnsatisfiable('bytes=-0', 100);
      assertUnsatisfiable('bytes=-000', 100);
    });
  });

  describe('syntax leniency', () => {
    it('accepts the range unit in any case (§14.1: units are case-insensitive)', () => {
      assert.deepEqual(parseRange('BYTES=1-2', 10), { start: 1, end: 2 });
      assert.deepEqual(parseRange('Bytes=-2', 10), { start: 8, end: 9 });
    });

    it('accepts whitespace around the unit, the "=", the "-" and the numbers', () => {
      assert.deepEqual(parseRange(' bytes = 1 - 2 ', 10), { start: 1, end: 2 });
      assert.deepEqual(parseRange('bytes=\t3-', 10), { start: 3, end: 9 });
      assert.deepEqual(parseRange('bytes= - 4', 10), { start: 6, end: 9 });
    });

    it('does not accept whitespace inside a number', () => {
      assert.equal(parseRange('bytes=1 0-20', 100), undefined);
    });
  });

  describe('a zero-length blob', () => {
    it('is 416 for any int-range, since no first byte is below the length 0', () => {
      assertUnsatisfiable('bytes=0-', 0);
      assertUnsatisfiable('bytes=0-0', 0);
      assertUnsatisfiable('bytes=0-10', 0);
    });

    it('is 416 for a zero suffix length', () => {
      assertUnsatisfiable('bytes=-0', 0);
    });

    it('still ignores malformed and multiple ranges (200 with the empty body)', () => {
      assert.equal(parseRange('bytes=x-', 0), undefined);
      assert.equal(parseRange('bytes=0-1,2-3', 0), undefined);
    });

    // RFC 9110 §14.1.1: "When a selected representation has zero length, the
    // only satisfiable form of range-spec is a suffix-range with a non-zero
    // suffix-length", so `bytes=-5` on an empty blob must not be 416. A 206 cannot
    // describe an empty range, so the server should ignore the header and send the
    // whole (empty) blob with 200. parseRange throws LOGSVC_RANGE_NOT_SATISFIABLE
    // (`size === 0` in the suffix branch).
    it('ignores a non-zero suffix range on an empty blob (satisfiable by §14.1.1), sending the empty body with 200', () => {
      assert.equal(parseRange('bytes=-5', 0), undefined);
    });
  });

  describe('huge numbers', () => {
    it('clamps a last byte far past Number.MAX_SAFE_INTEGER to the end of the blob', () => {
      assert.deepEqual(parseRange('bytes=0-99999999999999999999', 100), { start: 0, end: 99 });
      assert.deepEqual(parseRange(`bytes=5-${'9'.repeat(400)}`, 100), { start: 5, end: 99 });
    });

    it('gives the whole blob for a suffix far longer than any blob', () => {
      assert.deepEqual(parseRange('bytes=-99999999999999999999', 100), { start: 0, end: 99 });
      assert.deepEqual(parseRange(`bytes=-${'9'.repeat(400)}`, 100), { start: 0, end: 99 });
    });

    it('is 416 for a first byte far past the end, also one that overflows to Infinity', () => {
      assertUnsatisfiable('bytes=99999999999999999999-', 100);
      assertUnsatisfiable(`bytes=${'9'.repeat(400)}-`, 100);
    });

    it('serves ranges of blobs larger than 4 GiB exactly', () => {
      const size = 2 ** 40;
      assert.deepEqual(parseRange('bytes=4294967296-', size), { start: 2 ** 32, end: size - 1 });
      assert.deepEqual(parseRange('bytes=-1', size), { start: size - 1, end: size - 1 });
    });

    // positions are compared after Number(), which rounds past 2^53.
    // `bytes=9007199254740993-9007199254740992` has last < first, so it is invalid and
    // must be ignored (200), like `bytes=5-4`; both numbers round to 2^53, the range
    // looks valid and starts past the end, and the download fails with 416.
    it('ignores an invalid range even when its positions differ only beyond 2^53', () => {
      assert.equal(parseRange('bytes=9007199254740993-9007199254740992', 100), undefined);
    });
  });
});
