// ESLint (flat config): `npm run lint:code`, part of `npm run lint`.
//   - @eslint/js and typescript-eslint recommended rules (not type-aware: fast);
//   - the layers of README "Layout", enforced per folder on every import of ours
//     (static, `export … from`, dynamic `import('…')` and `import('…')` types).
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// The layers, bottom to top. `may` lists what a folder may import besides itself;
// an entry with a file name allows that one file of the folder. test/ and bench/
// may import anything and have no entry here.
const LAYERS = {
  client: { role: 'the typed client and the wire contract (the bottom layer)', may: [] },
  foundation: { role: 'the foundation (config, errors, logger)', may: ['client/wire.ts'] },
  stream: { role: 'a backend', may: ['foundation', 'client/wire.ts'] },
  store: { role: 'a backend', may: ['foundation', 'client/wire.ts'] },
  tailsrv: { role: 'the tailsrv protocol over files (header grammar, file follower, TCP server)', may: ['foundation', 'client/wire.ts'] },
  scribe: { role: 'the go-scribe file output (rotating files, sizes, the stream tee)', may: ['stream', 'foundation', 'client/wire.ts'] },
  archive: { role: 'the live archive (chunks of every stream in the blob store)', may: ['stream', 'store', 'foundation', 'client/wire.ts'] },
  handler: { role: 'the HTTP layer', may: ['archive', 'stream', 'store', 'foundation', 'tailsrv', 'client/wire.ts'] },
  grpc: { role: 'the gRPC layer (a peer of handler/)', may: ['handler', 'stream', 'store', 'foundation', 'scribe', 'client/wire.ts'] },
  app: { role: 'the composition root', may: ['archive', 'handler', 'grpc', 'tailsrv', 'scribe', 'stream', 'store', 'foundation', 'client'] },
  cmd: { role: 'the executable', may: ['app', 'tailsrv', 'scribe', 'client', 'foundation'] },
  // The web viewer runs in the browser and speaks HTTP to the server: it imports nothing of the server's.
  ui: { role: 'the web log viewer (browser code, bundled by bin/build-ui.js)', may: [] },
};
// Every folder of ours that a layer could reach with a relative import.
const FOLDERS = [...Object.keys(LAYERS), 'test', 'bench', 'bin', 'build', 'dist', 'dist-ui', 'proto'];

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** [{regex, message}] for what `layer` must not import (specifiers relative to a file in it). */
function forbidden(layer) {
  const { role, may } = LAYERS[layer];
  const rules = [];
  for (const folder of FOLDERS) {
    if (folder === layer || may.includes(folder)) continue;
    const files = may.filter((entry) => entry.startsWith(`${folder}/`)).map((entry) => entry.slice(folder.length + 1));
    const head = `^(\\.\\./)+${escape(folder)}`;
    if (files.length === 0) {
      rules.push({ regex: `${head}(/|$)`, message: `${layer}/ is ${role}: it must not import ${folder}/ (see README Layout)` });
    } else {
      const allowed = files.map((file) => `${escape(file)}$`).join('|');
      const only = files.map((file) => `${folder}/${file}`).join(', ');
      rules.push({
        regex: `${head}(/(?!${allowed})|$)`,
        message: `${layer}/ is ${role}: of ${folder}/ it may import only ${only} (see README Layout)`,
      });
    }
  }
  return rules;
}

/** The same patterns for dynamic imports, which no-restricted-imports does not see (esquery regex: no `/` inside). */
function forbiddenSyntax(layer) {
  return forbidden(layer).flatMap(({ regex, message }) => {
    const literal = regex.replaceAll('/', '\\x2F');
    return [
      { selector: `ImportExpression[source.value=/${literal}/]`, message },
      { selector: `TSImportType[argument.literal.value=/${literal}/]`, message },
    ];
  });
}

const layerRules = Object.keys(LAYERS).map((layer) => ({
  name: `log-service/layers/${layer}`,
  files: [`${layer}/**/*.ts`, `${layer}/**/*.tsx`],
  rules: {
    'no-restricted-imports': ['error', { patterns: forbidden(layer) }],
    'no-restricted-syntax': ['error', ...forbiddenSyntax(layer)],
  },
}));

export default defineConfig(
  { name: 'log-service/ignores', ignores: ['node_modules/', 'dist/', 'dist-ui/', 'build/', 'data/', 'bench/results/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    name: 'log-service/node',
    languageOptions: { ecmaVersion: 2024, sourceType: 'module', globals: { ...globals.node } },
  },
  {
    name: 'log-service/browser',
    files: ['ui/**/*.ts', 'ui/**/*.tsx'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    name: 'log-service/conventions',
    rules: {
      // `_` (or `_name`) marks a binding that is there on purpose: `for await (const _ of tail)`.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  ...layerRules,
);
