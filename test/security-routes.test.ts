// The security route table (test/support/route-table.ts) has a case for every
// route the service declares (handler/routes.ts), so a new route cannot skip
// the auth matrix; each case's access matches the declaration (route()).
import assert from 'node:assert/strict';
import { ROUTES as DECLARED } from '../handler/routes.ts';
import { ROUTES, STEP } from './support/route-table.ts';

describe('the security route table', () => {
  it('has a case for every declared route (a new route must join the auth matrix)', () => {
    const covered = new Set(ROUTES.map((r) => r.pattern));
    assert.ok(DECLARED.length >= 35, `only ${DECLARED.length} routes declared: has handler/routes.ts changed shape?`);
    for (const r of DECLARED)
      assert.ok(covered.has(`${r.method} ${r.path}`), `${r.method} ${r.path} is declared in handler/routes.ts but missing from the security route table`);
    for (const m of ['POST', 'PUT', 'GET', 'DELETE']) {
      assert.ok(covered.has(`${m} /stream`) && covered.has(`${m} ${STEP}/stream`), `${m} on the stream routes`);
    }
  });

  it('declares each method and path once', () => {
    const seen = DECLARED.map((r) => `${r.method} ${r.path}`);
    assert.equal(new Set(seen).size, seen.length);
  });

  it('gives every route a unique id', () => {
    assert.equal(new Set(ROUTES.map((r) => r.id)).size, ROUTES.length);
  });
});
