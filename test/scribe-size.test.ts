// go-scribe's size syntax (docs/SCRIBE.md §3): go-scribe's own table
// (scribe/util_test.go) plus what log-service adds (plain bytes, -1B, case),
// and that a bad LOG_SERVICE_SCRIBE_MAX_SIZE stops the configuration.
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../foundation/config.ts';
import { parseScribeSize } from '../foundation/scribe-size.ts';

describe('scribe sizes', () => {
  it("reads go-scribe's sizes with decimal multipliers", () => {
    const table: [string, number][] = [
      ['100KB', 100_000],
      ['5MB', 5_000_000],
      ['0.01GB', 10_000_000],
      ['0.01TB', 10_000_000_000],
      ['1MB', 1_000_000],
      ['0.29KB', 290],
      ['1.0005KB', 1000],
      ['65536', 65_536],
      ['65536B', 65_536],
      ['2mb', 2_000_000],
    ];
    for (const [text, bytes] of table) assert.equal(parseScribeSize(text), bytes, text);
  });

  it('reads -1 and -1B as never rotate', () => {
    assert.equal(parseScribeSize('-1'), -1);
    assert.equal(parseScribeSize('-1B'), -1);
  });

  it('refuses what go-scribe refused and sizes that mean nothing', () => {
    for (const text of ['0AB', 'A0.1MB', '', 'MB', '1.5', '1.5B', '5 MB', '-2MB', '-1KB', '0', '0MB', '0.0001KB', '1e3KB', 'Infinity', '99999999999TB']) {
      assert.equal(parseScribeSize(text), undefined, text);
    }
  });

  it('configures file output from LOG_SERVICE_SCRIBE_DIR with a 1MB default', () => {
    assert.equal(loadConfig({}).scribe, undefined);
    assert.deepEqual(loadConfig({ LOG_SERVICE_SCRIBE_DIR: '/tmp/x' }).scribe, { dir: '/tmp/x', maxBytes: 1_000_000, console: false });
    assert.deepEqual(loadConfig({ LOG_SERVICE_SCRIBE_DIR: '/tmp/x', LOG_SERVICE_SCRIBE_MAX_SIZE: '-1' }).scribe?.maxBytes, -1);
  });

  it('refuses a bad LOG_SERVICE_SCRIBE_MAX_SIZE at start-up', () => {
    assert.throws(
      () => loadConfig({ LOG_SERVICE_SCRIBE_DIR: '/tmp/x', LOG_SERVICE_SCRIBE_MAX_SIZE: '0AB' }),
      (err: unknown) => err instanceof ConfigError && /LOG_SERVICE_SCRIBE_MAX_SIZE: expected a go-scribe size.*got "0AB"/.test(err.message),
    );
  });
});
