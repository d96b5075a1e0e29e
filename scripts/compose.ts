import "reflect-metadata";
import { readFileSync, writeFileSync } from "node:fs";
import { composeSupergraph, CompositionError } from "../gateway/src/compose";
import { SUBGRAPH_MODULES } from "./lib/platform";

const FILES = { supergraph: "gateway/supergraph.graphql", apiSchema: "gateway/schema.graphql" } as const;

/** `npm run compose [-- --check]`: writes the supergraph and API schema, or fails when they are stale. */
async function main(): Promise<void> {
  const check = process.argv.includes("--check");
  const composed = await composeSupergraph(SUBGRAPH_MODULES);
  let stale = false;
  for (const [key, file] of Object.entries(FILES) as Array<[keyof typeof FILES, string]>) {
    const current = (() => {
      try {
        return readFileSync(file, "utf8");
      } catch {
        return "";
      }
    })();
    if (current === composed[key]) continue;
    if (check) {
      console.error(`${file} is stale: run \`npm run compose\` and commit the result.`);
      stale = true;
    } else {
      writeFileSync(file, composed[key]);
      console.log(`wrote ${file}`);
    }
  }
  if (stale) process.exit(1);
  if (check) console.log("supergraph and API schema are up to date");
}

main().catch((err) => {
  console.error(err instanceof CompositionError ? `Composition failed:\n${err.message}` : err);
  process.exit(1);
});
