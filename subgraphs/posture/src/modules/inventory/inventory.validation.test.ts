import { validateResourceInputs } from "./inventory.validation";
import type { ResourceInput } from "./inventory.inputs";

const good: ResourceInput = {
  accountId: "0190d9a0-0000-7000-8000-000000000001",
  externalId: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv",
  type: "Microsoft.KeyVault/vaults",
  name: "kv",
  tags: { owner: "sec" },
  properties: { enableSoftDelete: true },
};

describe("resource input validation", () => {
  it("accepts well-formed items", () => {
    expect(validateResourceInputs([good])).toEqual([]);
  });

  it("reports every problem with the item's index and field", () => {
    const problems = validateResourceInputs([
      good,
      { ...good, externalId: "b", name: "  ", type: "x".repeat(300) },
      {
        ...good,
        externalId: "c",
        tags: { a: 1 } as unknown as Record<string, unknown>,
        properties: [] as unknown as Record<string, unknown>,
      },
      { ...good },
    ]);
    expect(problems.map((p) => [p.index, p.field])).toEqual([
      [1, "type"],
      [1, "name"],
      [2, "tags.a"],
      [2, "properties"],
      [3, "externalId"],
    ]);
  });
});
