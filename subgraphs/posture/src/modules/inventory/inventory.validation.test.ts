import { armAncestors } from "./inventory.loader";
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

describe("ARM ancestors", () => {
  it("lists the id and its ancestors, longest first, lower-cased", () => {
    const id =
      "/subscriptions/S/resourceGroups/RG/providers/Microsoft.KeyVault/vaults/kv/providers/microsoft.insights/diagnosticSettings/d";
    const list = armAncestors(id);
    expect(list[0]).toBe(id.toLowerCase());
    expect(list).toContain("/subscriptions/s/resourcegroups/rg/providers/microsoft.keyvault/vaults/kv");
    expect(list[list.length - 1]).toBe("/subscriptions/s");
    expect(armAncestors("arn:aws:ec2:eu-west-1:123:instance/i-1")).toEqual([
      "arn:aws:ec2:eu-west-1:123:instance/i-1",
    ]);
  });
});
