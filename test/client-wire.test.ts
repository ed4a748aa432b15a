// The client owns the wire contract (client/wire.ts): the client package is
// client/ alone, and the server takes the shared shapes and codes from there.
// These checks read the sources' import statements, so they fail on the edit
// that breaks the rule, before any build.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Module specifiers of every import/export-from in `file` (static and dynamic). */
function importsOf(file: string): string[] {
  const text = readFileSync(`${root}/${file}`, 'utf8');
  return [
    ...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?\bfrom\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
}

function tsFiles(dir: string): string[] {
  return readdirSync(`${root}/${dir}`)
    .filter((name) => name.endsWith('.ts'))
    .map((name) => `${dir}/${name}`);
}

describe('the wire contract', () => {
  it('client/wire.ts imports nothing', () => {
    assert.deepEqual(importsOf('client/wire.ts'), []);
  });

  it('client/ imports no file outside client/ (only packages and node: modules)', () => {
    for (const file of tsFiles('client')) {
      for (const specifier of importsOf(file)) {
        if (!specifier.startsWith('.')) continue;
        assert.ok(specifier.startsWith('./') && !specifier.slice(2).includes('/'), `${file} imports ${specifier}`);
      }
    }
  });

  it('foundation/ takes nothing from client/ but client/wire.ts', () => {
    for (const file of tsFiles('foundation')) {
      for (const specifier of importsOf(file)) {
        if (specifier.includes('/client/')) assert.equal(specifier, '../client/wire.ts', `${file} imports ${specifier}`);
      }
    }
  });

  it('the client reads no environment variable by itself (LogServiceClient.fromEnv is the one place)', () => {
    for (const file of tsFiles('client')) {
      const uses = readFileSync(`${root}/${file}`, 'utf8')
        .split('\n')
        .filter((line) => /process\.env/.test(line) && !/^\s*(\/\/|\/\*|\*)/.test(line));
      const allowed = file === 'client/client-env.ts' ? uses.filter((line) => !/env: ClientEnvironment = process\.env/.test(line)) : uses;
      assert.deepEqual(allowed, [], `${file} reads process.env`);
    }
  });

  it('the client reaches for no runtime internals (undici comes from the undici package)', () => {
    for (const file of tsFiles('client')) {
      const text = readFileSync(`${root}/${file}`, 'utf8');
      assert.doesNotMatch(text, /Symbol\.for\(['"]undici/, `${file} uses Node's internal undici dispatcher`);
    }
  });
});
