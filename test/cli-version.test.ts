// `log-service --version`: the version of the package it runs from, read from its package.json.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runCli } from './support/cli-process.ts';
import { BIN } from './support/server-process.ts';

describe('log-service --version', () => {
  it('prints the version in package.json, and exits 0', async () => {
    const { version } = JSON.parse(readFileSync(join(dirname(BIN), '..', 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const res = await runCli([flag]);
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.stdout.toString(), `${version}\n`);
      assert.equal(res.stderr, '');
    }
  });
});
