/** @type {import('jest').Config} */
const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testTimeout: 180000,
};

module.exports = {
  testTimeout: 180000,
  testSequencer: '<rootDir>/test/support/sequencer.js',
  // The fault scenarios' outcomes, as one table at the end of the run.
  reporters: ['default', '<rootDir>/test/support/faultTableReporter.js'],
  projects: [
    // Pure functions and files on disk: no services.
    { ...common, displayName: 'unit', roots: ['<rootDir>/test/unit'] },
    // The real stack (Temporal, PostgreSQL, Redis), started by the project's own code.
    {
      ...common,
      displayName: 'integration',
      roots: ['<rootDir>/test/integration'],
      globalSetup: '<rootDir>/test/support/globalSetup.ts',
      globalTeardown: '<rootDir>/test/support/globalTeardown.ts',
      setupFiles: ['<rootDir>/test/support/workerStack.ts'],
    },
    // Workflow logic against Temporal's time-skipping test server, activities stubbed: no other service.
    { ...common, displayName: 'workflows', roots: ['<rootDir>/test/workflows'] },
    // Recorded histories replayed on the current workflow code: no service at all.
    { ...common, displayName: 'replay', roots: ['<rootDir>/test/replay'] },
  ],
};
