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
};
