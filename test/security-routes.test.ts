// The security route table (test/support/route-table.ts) lists every route the
// handlers register, so a new route cannot skip the auth matrix.
import assert from 'node:assert/strict';
import { registeredRoutes, ROUTES, STEP } from './support/route-table.ts';

describe('the security route table', () => {
  it('lists every route the handlers register (a new route must join the auth matrix)', () => {
    const { express, streamPaths, streamSuffixes } = registeredRoutes();
    const table = new Set(ROUTES.map((r) => r.pattern));
    assert.ok(express.size >= 20, `found only ${express.size} Express routes in handler/*.ts: has the source layout changed?`);
    for (const r of express) assert.ok(table.has(r), `${r} is registered in handler/*.ts but missing from the security route table`);
    const paths = ROUTES.map((r) => r.pattern.split(' ')[1]!);
    for (const p of streamPaths) assert.ok(paths.includes(p), `stream route ${p} (stream-routes.ts) is missing from the table`);
    for (const s of streamSuffixes) assert.ok(paths.includes(`${STEP}${s}`), `stream route ${STEP}${s} is missing from the table`);
    for (const m of ['POST', 'PUT', 'GET', 'DELETE']) {
      assert.ok(table.has(`${m} /stream`) && table.has(`${m} ${STEP}/stream`), `${m} on the stream routes`);
    }
  });

  it('gives every route a unique id', () => {
    assert.equal(new Set(ROUTES.map((r) => r.id)).size, ROUTES.length);
  });
});
