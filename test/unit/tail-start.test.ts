// Where a tail starts, from its request (handler/tail-start.ts).
import assert from 'node:assert/strict';
import { cursorStart, parseOffset } from '../../handler/tail-start.ts';
import { ServiceError } from '../../foundation/errors.ts';

const q = (query: string) => new URLSearchParams(query);

function assertInvalidParam(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ServiceError, String(err));
    assert.equal(err.code, 'LOGSVC_INVALID_PARAM');
    assert.equal(err.status, 400);
    assert.equal(err.message, message);
    return true;
  });
}

const BAD_SEQ = 'Last-Event-ID / from must be a line seq (a non-negative integer)';
const BAD_TAIL = 'tail must be a non-negative integer';
const BAD_OFFSET = 'offset must be an integer byte offset (negative: from the end)';

describe('cursorStart', () => {
  it('starts at the beginning when the request says nothing', () => {
    assert.deepEqual(cursorStart(undefined, q('')), { kind: 'beginning' });
    assert.deepEqual(cursorStart(undefined, q('accountID=a&key=k')), { kind: 'beginning' });
  });

  it('starts after the seq in Last-Event-ID, as EventSource sends on reconnect', () => {
    assert.deepEqual(cursorStart('41', q('')), { kind: 'after', seq: 41 });
    assert.deepEqual(cursorStart('0', q('')), { kind: 'after', seq: 0 });
  });

  it('trims whitespace around Last-Event-ID', () => {
    assert.deepEqual(cursorStart('  7 \t', q('')), { kind: 'after', seq: 7 });
  });

  it('starts after the seq in ?from= when there is no Last-Event-ID', () => {
    assert.deepEqual(cursorStart(undefined, q('from=12')), { kind: 'after', seq: 12 });
  });

  it('prefers Last-Event-ID to ?from=, and both to ?tail=', () => {
    assert.deepEqual(cursorStart('5', q('from=12&tail=3')), { kind: 'after', seq: 5 });
    assert.deepEqual(cursorStart(undefined, q('tail=3&from=12')), { kind: 'after', seq: 12 });
  });

  it('refuses a bad Last-Event-ID even when ?from= is good: the header decides', () => {
    assertInvalidParam(() => cursorStart('abc', q('from=12')), BAD_SEQ);
  });

  it('falls back to ?from= when Last-Event-ID is empty or blank', () => {
    assert.deepEqual(cursorStart('', q('from=12')), { kind: 'after', seq: 12 });
    assert.deepEqual(cursorStart('   ', q('from=12')), { kind: 'after', seq: 12 });
  });

  it('ignores a Last-Event-ID given as several values and reads ?from=', () => {
    assert.deepEqual(cursorStart(['3', '4'], q('from=12')), { kind: 'after', seq: 12 });
    assert.deepEqual(cursorStart(['3'], q('')), { kind: 'beginning' });
  });

  it('treats an empty ?from= as absent and goes on to ?tail=', () => {
    assert.deepEqual(cursorStart(undefined, q('from=&tail=4')), { kind: 'tail', lines: 4 });
    assert.deepEqual(cursorStart(undefined, q('from=')), { kind: 'beginning' });
  });

  it('accepts seqs of up to 15 digits and refuses 16', () => {
    assert.deepEqual(cursorStart('999999999999999', q('')), { kind: 'after', seq: 999_999_999_999_999 });
    assert.deepEqual(cursorStart(undefined, q('from=000000000000007')), { kind: 'after', seq: 7 });
    assertInvalidParam(() => cursorStart('1000000000000000', q('')), BAD_SEQ);
  });

  it('refuses a seq that is not a plain decimal integer', () => {
    for (const bad of ['-1', '+1', '1.5', '1e3', '0x10', '١٢', '1 2', '1,2']) {
      assertInvalidParam(() => cursorStart(bad, q('')), BAD_SEQ);
      assertInvalidParam(() => cursorStart(undefined, q(`from=${encodeURIComponent(bad)}`)), BAD_SEQ);
    }
  });

  it('does not trim ?from= the way it trims the header', () => {
    assertInvalidParam(() => cursorStart(undefined, q('from=%207')), BAD_SEQ);
  });

  it('starts at the last N lines for ?tail=N, 0 included', () => {
    assert.deepEqual(cursorStart(undefined, q('tail=100')), { kind: 'tail', lines: 100 });
    assert.deepEqual(cursorStart(undefined, q('tail=0')), { kind: 'tail', lines: 0 });
  });

  it('treats an empty ?tail= as absent', () => {
    assert.deepEqual(cursorStart(undefined, q('tail=')), { kind: 'beginning' });
  });

  it('accepts a tail of up to 9 digits and refuses 10, or anything that is not a plain integer', () => {
    assert.deepEqual(cursorStart(undefined, q('tail=999999999')), { kind: 'tail', lines: 999_999_999 });
    for (const bad of ['1000000000', '-5', '1.5', 'all', '+3', '%203']) {
      assertInvalidParam(() => cursorStart(undefined, q(`tail=${bad}`)), BAD_TAIL);
    }
  });

  it('reads the first of repeated query parameters', () => {
    assert.deepEqual(cursorStart(undefined, q('from=3&from=9')), { kind: 'after', seq: 3 });
    assert.deepEqual(cursorStart(undefined, q('tail=3&tail=x')), { kind: 'tail', lines: 3 });
  });
});

describe('parseOffset', () => {
  it('is 0 when there is no offset or it is empty', () => {
    assert.equal(parseOffset(null), 0);
    assert.equal(parseOffset(''), 0);
  });

  it('reads a byte offset, and a negative one as "the last N bytes"', () => {
    assert.equal(parseOffset('0'), 0);
    assert.equal(parseOffset('1234'), 1234);
    assert.equal(parseOffset('-500'), -500);
  });

  it('reads "-0" as offset zero (the whole log), since -0 is not below 0', () => {
    const offset = parseOffset('-0');
    assert.ok(offset === 0 && !(offset < 0));
  });

  it('accepts up to 15 digits either way and refuses 16', () => {
    assert.equal(parseOffset('999999999999999'), 999_999_999_999_999);
    assert.equal(parseOffset('-999999999999999'), -999_999_999_999_999);
    assertInvalidParam(() => parseOffset('1000000000000000'), BAD_OFFSET);
    assertInvalidParam(() => parseOffset('-1000000000000000'), BAD_OFFSET);
  });

  it('refuses anything but an optionally negative decimal integer', () => {
    for (const bad of ['+5', '5.0', '1e3', '--5', '-', ' 5', '5 ', 'end', '0x1f']) {
      assertInvalidParam(() => parseOffset(bad), BAD_OFFSET);
    }
  });
});
