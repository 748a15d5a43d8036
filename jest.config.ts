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

/** One real control plane per project run, shared by its suites (test/integration/global-setup.ts). */
const withControlPlane = {
  globalSetup: '<rootDir>/test/integration/global-setup.ts',
  globalTeardown: '<rootDir>/test/integration/global-teardown.ts',
};

const config: Config = {
  // With two cores jest runs the files in band, one after another in its own process: a handle a
  // failed test leaves open (a socket, a timer, a child process's pipe) would keep the run from
  // ever ending. The suites clean up after themselves; this makes sure a failure ends the run anyway.
  forceExit: true,
  reporters: ['default', '<rootDir>/test/summary-reporter.cjs'],
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'model', testMatch: ['<rootDir>/test/model/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      ...withControlPlane,
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
      ...withControlPlane,
    },
    // Each chaos suite starts its own control plane (it kills etcd). `npm test` runs them short
    // (CHAOS_SCALE 0.1, FUZZ_SPECS 500 by default); `npm run test:chaos` at full length.
    { ...common, displayName: 'chaos', testMatch: ['<rootDir>/test/chaos/**/*.test.ts'] },
    // Traces exported to a real Jaeger (built from Go modules: scripts/build-jaeger.sh).
    {
      ...common,
      displayName: 'traces',
      testMatch: ['<rootDir>/test/traces/**/*.test.ts'],
      ...withControlPlane,
    },
    // The operator image as Pods on a real kubelet (root, containerd, runc), with a control plane of
    // its own: jest runs one global setup per distinct file, so this project only runs when asked,
    // alone. `npm run test:deploy:pod` (CI) is the image build and one Pod start; `npm run test:deploy`
    // (WFE_DEPLOY_SUITE=full) the whole suite.
    ...(process.env['WFE_DEPLOY_SUITE'] === undefined
      ? []
      : [
          {
            ...common,
            displayName: 'deploy',
            testMatch:
              process.env['WFE_DEPLOY_SUITE'] === 'full'
                ? ['<rootDir>/test/deploy/**/*.test.ts']
                : ['<rootDir>/test/deploy/pod-start.test.ts'],
            ...withControlPlane,
          },
        ]),
  ],
};

export default config;
