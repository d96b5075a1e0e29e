import { readFileSync } from "node:fs";
import { buildSchema, parse, validate } from "graphql";
import { composeSupergraph } from "../gateway/src/compose";
import { SUBGRAPH_MODULES } from "../scripts/lib/platform";

describe("schema composition", () => {
  it("composes the three subgraphs into the committed supergraph and API schema", async () => {
    const composed = await composeSupergraph(SUBGRAPH_MODULES);
    expect(composed.supergraph).toBe(readFileSync("gateway/supergraph.graphql", "utf8"));
    expect(composed.apiSchema).toBe(readFileSync("gateway/schema.graphql", "utf8"));
  });

  it("describes every type and field of the API schema", () => {
    const schema = buildSchema(readFileSync("gateway/schema.graphql", "utf8"));
    const undocumented: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith("__") || ["String", "Int", "Float", "Boolean", "ID"].includes(type.name))
        continue;
      if (!type.description) undocumented.push(type.name);
      if ("getFields" in type) {
        for (const field of Object.values(type.getFields()))
          if (!field.description) undocumented.push(`${type.name}.${field.name}`);
      }
    }
    expect(undocumented).toEqual([]);
  });

  it("accepts every operation in docs/api.md", () => {
    const schema = buildSchema(readFileSync("gateway/schema.graphql", "utf8"));
    const blocks = [...readFileSync("docs/api.md", "utf8").matchAll(/```graphql\n([\s\S]*?)```/g)].map(
      (m) => m[1],
    );
    expect(blocks.length).toBeGreaterThan(8);
    for (const block of blocks)
      expect({ block, errors: validate(schema, parse(block)).map((e) => e.message) }).toEqual({
        block,
        errors: [],
      });
  });

  it("accepts the README's example query", () => {
    const readme = readFileSync("README.md", "utf8");
    const query = /```graphql\n(query CrossDomain[\s\S]*?)```/.exec(readme)?.[1];
    expect(query).toBeDefined();
    const schema = buildSchema(readFileSync("gateway/schema.graphql", "utf8"));
    expect(validate(schema, parse(query!))).toEqual([]);
  });
});
