// The error catalogue, the error body and the wire contract's description of them (docs/PROTOCOL.md §9) must not drift.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES } from '../client/wire.ts';
import { ERRORS } from '../foundation/errors.ts';
import { errorBody } from '../handler/error-response.ts';

describe('error catalogue', () => {
  const protocol = readFileSync(new URL('../docs/PROTOCOL.md', import.meta.url), 'utf8');
  const rows = new Map([...protocol.matchAll(/^\| `(LOGSVC_[A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1]!, Number(m[2])]));

  it('documents every code with its status in docs/PROTOCOL.md', () => {
    for (const [code, { status }] of Object.entries(ERRORS)) {
      assert.equal(rows.get(code), status, `${code} (${status}) is missing or wrong in docs/PROTOCOL.md's error table`);
    }
  });

  it('documents no code the service does not have', () => {
    for (const code of rows.keys()) assert.ok(code in ERRORS, `${code} is in docs/PROTOCOL.md but not in foundation/errors.ts`);
  });

  it('maps exactly the codes of the wire contract (client/wire.ts), no more, no fewer', () => {
    // The typecheck already enforces this (ERRORS `satisfies Record<ErrorCode, …>`); this is the runtime view of it.
    assert.deepEqual(Object.keys(ERRORS).sort(), [...ERROR_CODES].sort());
    assert.equal(new Set(ERROR_CODES).size, ERROR_CODES.length, 'a code is listed twice in client/wire.ts');
  });

  it('documents the error body the service renders: error_msg and error_code, no `code` field (docs/PROTOCOL.md §9.1)', () => {
    const section = /### 9\.1 The error body\n([\s\S]*?)\n### /.exec(protocol)?.[1] ?? '';
    const example = /```json\n(.*)\n```/.exec(section)?.[1];
    assert.ok(example !== undefined, 'docs/PROTOCOL.md §9.1 has no JSON example');
    const documented = JSON.parse(example) as Record<string, unknown>;
    const rendered = errorBody('LOGSVC_STREAM_NOT_FOUND', String(documented.error_msg));
    assert.deepEqual(documented, rendered, 'the example in §9.1 is what handler/error-response.ts sends');
    assert.deepEqual(Object.keys(rendered), ['error_msg', 'error_code']);
    for (const doc of ['README.md', 'docs/API.md']) {
      const text = readFileSync(new URL(`../${doc}`, import.meta.url), 'utf8');
      assert.ok(text.includes('`{"error_msg": "...", "error_code": "LOGSVC_..."}`'), `${doc} shows the error body`);
      assert.doesNotMatch(text, /"code": "LOGSVC_/, `${doc} still shows a string code`);
    }
  });

  it('uses real statuses: 4xx for client mistakes, 5xx only for server-side failures', () => {
    for (const [code, { status }] of Object.entries(ERRORS)) {
      assert.ok(status >= 400 && status < 600, code);
      if (status >= 500) assert.match(code, /INTERNAL|UNAVAILABLE|SHUTTING_DOWN|STORAGE_FULL/);
    }
  });
});
