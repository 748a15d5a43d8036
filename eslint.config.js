// @ts-check
import eslint from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

/** What ships (src/, machines/) never reaches into the development tooling, which no image carries. */
const toolingPattern = {
  group: ['**/tooling/**', '**/tooling'],
  message:
    'src/ and machines/ are what the images run: they never import tooling/ (local cluster, image builder).',
};

/** The shipped code uses its own lean client (src/shell/kube/): client-node loads ~85 MiB of generated API. */
const clientNodePattern = {
  group: ['@kubernetes/client-node'],
  message:
    'The shipped code uses its own lean client (src/shell/kube/); client-node is for tooling and tests.',
};

/** The functional core must stay pure: no cluster client, no Node built-ins, no shell. */
const pureCoreRestriction = {
  patterns: [
    toolingPattern,
    {
      group: ['@kubernetes/client-node', '@kubernetes/*'],
      message: 'The functional core never talks to the cluster (DESIGN 6).',
    },
    {
      group: ['node:*'],
      message: 'The functional core uses no Node built-ins: no clock, no I/O (DESIGN 6).',
    },
    {
      group: ['**/shell/**', '**/src/shell', '**/audit/**', '**/inspect/**', '**/cli/**'],
      message: 'The functional core never imports the shell (DESIGN 6).',
    },
    {
      group: [
        'pg',
        'winston',
        'prom-client',
        'fs',
        'path',
        'http',
        'https',
        'crypto',
        'child_process',
        'os',
        'net',
      ],
      message: 'The functional core does no I/O (DESIGN 6).',
    },
  ],
};

/** The machines hold their own vocabulary (events, plan types, text): they never reach into the core. */
const machineRestriction = {
  patterns: [
    ...pureCoreRestriction.patterns,
    {
      group: ['**/core/**', '**/src/core'],
      message: 'A machine imports only xstate, its own vocabulary and src/api (DESIGN 6).',
    },
  ],
};

export default defineConfig(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'coverage/',
      'src/api/generated/',
      'visualizations/',
      'test/controlplane/',
      // Plain CommonJS loaded by jest's reporter loader, outside the TypeScript project.
      'test/summary-reporter.cjs',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/cli/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [toolingPattern, clientNodePattern] }] },
  },
  {
    // The layers below the command line never import it (its errors and formatting are its own).
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            toolingPattern,
            clientNodePattern,
            { group: ['**/cli/**', '**/src/cli'], message: 'Only the command line imports src/cli/.' },
          ],
        },
      ],
    },
  },
  {
    files: ['machines/**/*.ts', 'src/core/**/*.ts', 'src/api/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', pureCoreRestriction],
      'no-restricted-globals': [
        'error',
        { name: 'Date', message: 'Time enters the core as data (event.now).' },
        { name: 'setTimeout', message: 'No timers in the core.' },
        { name: 'process', message: 'No process access in the core.' },
        { name: 'fetch', message: 'No network in the core.' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'The core is deterministic.' },
        { object: 'Date', property: 'now', message: 'Time enters the core as data.' },
      ],
    },
  },
  {
    files: ['machines/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', machineRestriction] },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
);
