// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'fs', 'fs/promises', 'net', 'http', 'https', 'http2', 'crypto', 'child_process', 'os', 'path',
  'dgram', 'dns', 'tls', 'worker_threads', 'cluster', 'process', 'stream', 'zlib', 'timers',
];

export default tseslint.config(
  { ignores: ['node_modules/**', '.data/**', 'dist/**', 'dist.*/**', 'test-artifacts/**', 'views/static/vendor/**', 'drizzle/migrations/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code is replayed: it must stay deterministic and free of I/O. Activities do the I/O.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [
          ...nodeBuiltins.flatMap((m) => [m, `node:${m}`]).map((name) => ({ name, message: 'Workflows are deterministic: do I/O in activities/.' })),
          ...['pg', 'drizzle-orm', 'pino', '@temporalio/client', '@temporalio/worker', '@temporalio/activity'].map((name) => ({ name, message: 'Workflows may not do I/O: move it to activities/.' })),
        ],
        patterns: [{ group: ['../lib/db/*', '../activities/*', '../../activities/*'], allowTypeImports: true, message: 'Import activities as types only.' }],
      }],
    },
  },
  {
    // Simulators stand in for WAHA and Kaspi: they must not borrow the product's code, or a product
    // bug would be mirrored by the fake that is meant to catch it.
    files: ['simulators/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{
          regex: '^(\\.\\./)+(lib|api|activities|workflows|drizzle|views|bin)(/|$)',
          message: 'Simulators import nothing from the product: write the simulator\'s own version.',
        }],
      }],
    },
  },
  { files: ['**/*.js', '**/*.mjs'], languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setInterval: 'readonly', clearInterval: 'readonly' } } },
);
