import { existsSync } from 'node:fs';
import type { Config } from 'jest';

// ESM jest with ts-jest; tsconfig's isolatedModules makes it transpile only, and `npm run typecheck`
// checks types once, so each test file is not type-checked again.
const tsJest = {
  '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
} as const;

const common = {
  extensionsToTreatAsEsm: ['.ts'],
  transform: tsJest,
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testEnvironment: 'node',
};

const config: Config = {
  reporters: ['default', '<rootDir>/test/summary-reporter.cjs'],
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'model', testMatch: ['<rootDir>/test/model/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      // One control plane per run, shared by every integration suite.
      ...(existsSync('test/integration/global-setup.ts')
        ? {
            globalSetup: '<rootDir>/test/integration/global-setup.ts',
            globalTeardown: '<rootDir>/test/integration/global-teardown.ts',
          }
        : {}),
    },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'] },
  ],
};

export default config;
