// `npm run record-histories`: the recorder (test/replay/record) on the tests' local stack.
// Not part of `npm test`: it rewrites test/replay/histories.
/** @type {import('jest').Config} */
module.exports = {
  rootDir: '../..',
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  roots: ['<rootDir>/test/replay/record'],
  testMatch: ['**/*.record.ts'],
  testTimeout: 600000,
  globalSetup: '<rootDir>/test/support/globalSetup.ts',
  globalTeardown: '<rootDir>/test/support/globalTeardown.ts',
  setupFiles: ['<rootDir>/test/support/workerStack.ts'],
};
