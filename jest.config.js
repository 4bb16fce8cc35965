// Two projects: `unit` runs pure-logic tests that sit beside their sources; `integration`
// runs tests under test/integration against the real services started by scripts/services.sh;
// `faults` (test/faults) breaks those services under load and records a table (scripts/test-faults.sh).
const transform = {
  '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
};
// Tests run from sources: map workspace packages to their src so no build is needed first.
const moduleNameMapper = { '^@gantry/([a-z-]+)$': '<rootDir>/packages/$1/src' };
const common = { transform, moduleNameMapper, testEnvironment: 'node', rootDir: __dirname };

module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/packages/*/src/**/*.test.ts', '<rootDir>/test/bench/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/global-setup.ts',
      setupFilesAfterEnv: ['<rootDir>/test/setup-integration.ts'],
      slowTestThreshold: 30,
    },
    {
      ...common,
      displayName: 'faults',
      testMatch: ['<rootDir>/test/faults/**/*.test.ts'],
      globalSetup: '<rootDir>/test/global-setup.ts',
      setupFilesAfterEnv: ['<rootDir>/test/setup-integration.ts'],
      slowTestThreshold: 60,
    },
  ],
};
