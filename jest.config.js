/** @type {import('jest').Config} */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', {}],
    // hyparquet(-writer) ship ES modules only: compile them to CommonJS like our own sources
    '^.+/node_modules/hyparquet[^/]*/.+\\.js$': ['ts-jest', { tsconfig: { allowJs: true, isolatedModules: true } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!hyparquet)'],
  testTimeout: 60000,
  setupFiles: ['<rootDir>/__tests__/setup-env.ts'],
  // Integration suites start their own S3 servers on random ports; two workers match this 2-core machine.
  maxWorkers: 2,
}
