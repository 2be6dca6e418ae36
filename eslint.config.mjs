// ESLint, flat config: typescript-eslint's recommended rules everywhere, promise rules that need
// the type checker, and for workflow code the imports that break determinism or the sandbox.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Node's built-ins, bare and with the node: prefix (fs, node:fs, fs/promises, ...).
const nodeBuiltins = [...new Set(builtinModules.filter((m) => !m.startsWith('_')).flatMap((m) => [m, `node:${m}`]))];

// The CommonJS scripts' globals (Node's own; the globals package is not a dependency here).
const nodeGlobals = Object.fromEntries(
  ['require', 'module', 'exports', '__dirname', '__filename', 'process', 'console', 'Buffer', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'URL'].map((g) => [g, 'readonly']),
);

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'coverage/', '.data/', '.tools/', 'src/generated/', 'bench/results/', 'test-artifacts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: {
        // Both configurations: tsconfig.json has bench/ and prisma.config.ts, tsconfig.test.json the tests.
        project: ['./tsconfig.json', './tsconfig.test.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // A promise nobody awaits loses its failure (and, in a workflow, its ordering).
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // Promise.all over a list where some entries have nothing to wait for is fine.
      '@typescript-eslint/await-thenable': ['error', { allowMixedPromiseArrays: true }],
      // `_name` marks a value left unused on purpose (a destructured field dropped, an unused parameter).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // Tests read the CLI's JSON loosely, load tools that come with the test dependencies by
    // require (js-yaml), strip terminal escapes with regular expressions and quote CJK text.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-require-imports': 'off',
      'no-control-regex': 'off',
      'no-irregular-whitespace': ['error', { skipComments: true }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { sourceType: 'commonjs', globals: nodeGlobals },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  { files: ['**/*.mjs'], languageOptions: { sourceType: 'module' } },
  {
    // Workflow code runs in Temporal's deterministic sandbox, replayed from history: no I/O, and
    // activity implementations only as types (the workflow proxies them).
    files: ['workflows/**/*.ts', 'test/replay/variants/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'workflow code must not use Node built-ins: it runs in a deterministic sandbox; do I/O in an activity' })),
          patterns: [
            {
              // ../activities, ../activities/core, ../../activities/legacy ... (./activities is the proxies' module).
              regex: '^(\\.\\./)+activities(/.*)?$',
              allowTypeImports: true,
              message: 'workflows import activity implementations as types only (`import type`): they call them through the proxies in workflows/activities.ts',
            },
            {
              group: ['@temporalio/activity', '@temporalio/client', '@temporalio/worker', '@temporalio/testing'],
              allowTypeImports: true,
              message: 'workflow code uses @temporalio/workflow (and @temporalio/common); the other SDK packages are not for the workflow sandbox',
            },
          ],
        },
      ],
    },
  },
);
