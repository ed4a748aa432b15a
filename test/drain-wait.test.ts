// How long a tail may wait for its socket to drain (handler/drain-wait.ts).
import assert from 'node:assert/strict';
import { stallMsNow, TAIL_STALL_MS } from '../handler/tail/drain-wait.ts';

describe('the stall window of a tail', () => {
  it('lasts to the end of the connection lifetime, so a slow but steady reader is not cut before it', () => {
    const hour = 3600_000;
    const deadline = Date.now() + hour;
    const window = stallMsNow(deadline, hour);
    assert.ok(window > hour - 1000 && window <= hour);
  });

  it('lasts at least TAIL_STALL_MS near the end of a long lifetime, and the whole lifetime when that is shorter', () => {
    assert.equal(stallMsNow(Date.now() + 5000, 3600_000), TAIL_STALL_MS);
    assert.equal(stallMsNow(Date.now() - 1000, 3000), 3000);
  });
});
