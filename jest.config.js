/** Jest runs TypeScript through SWC (decorator metadata on) so tests see exactly what `npm start` runs. */
const swc = JSON.parse(require("node:fs").readFileSync(`${__dirname}/.swcrc`, "utf8"));
delete swc.exclude;
delete swc.$schema;

module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/subgraphs", "<rootDir>/gateway", "<rootDir>/test", "<rootDir>/scripts"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["@swc/jest", { ...swc, swcrc: false }] },
  globalSetup: "<rootDir>/test/utils/global-setup.ts",
  globalTeardown: "<rootDir>/test/utils/global-teardown.ts",
  setupFiles: ["reflect-metadata"],
  testTimeout: 60000,
  maxWorkers: 2,
  // Each test file leaves memory behind in its worker: over a full run a worker's heap grew past 3.5 GB, with
  // event-loop stalls of up to 20 s, and a worker stalled when the run ends misses Jest's 500 ms to exit (the
  // likely cause of "A worker process has failed to exit gracefully"). A worker past 1 GB after a file is replaced.
  workerIdleMemoryLimit: "1GB",
};
