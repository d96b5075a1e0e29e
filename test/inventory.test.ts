import { Client } from "pg";
import {
  RemoveResourcesDocument,
  ResourceDocument,
  ResourcesDocument,
  UpsertAccountsDocument,
  UpsertResourcesDocument,
  type ResourceInput,
} from "./__generated__/graphql";
import { Role } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

describe("inventory", () => {
  let platform: TestPlatform;
  let admin: string;
  let azure: string;

  const vm = (i: number, extra: Partial<ResourceInput> = {}): ResourceInput => ({
    accountId: azure,
    externalId: `/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-${i}`,
    type: "Microsoft.Compute/virtualMachines",
    name: `vm-${String(i).padStart(5, "0")}`,
    region: "westeurope",
    resourceGroup: "rg",
    tags: { environment: i % 2 ? "prod" : "dev" },
    properties: { hardwareProfile: { vmSize: "Standard_D2s_v5" } },
    ...extra,
  });

  const total = async () =>
    ok(await platform.request(ResourcesDocument, { first: 1 }, await platform.token([Role.READER]))).resources
      .totalCount;

  beforeAll(async () => {
    platform = await startTestPlatform();
    admin = await platform.token([Role.ADMIN]);
    const accounts = ok(
      await platform.request(
        UpsertAccountsDocument,
        { input: [{ provider: "AZURE", externalId: "s1", name: "Prod" }] },
        admin,
      ),
    ).upsertCloudAccounts;
    azure = accounts[0].id;
  });
  afterAll(() => platform?.stop());

  it("rejects a batch with malformed items whole, naming each item's index and field", async () => {
    const input = [
      vm(1),
      vm(2, { name: "" }),
      vm(3, { accountId: "not-a-uuid", tags: { owner: 42 } as unknown as Record<string, unknown> }),
      vm(1, { name: "duplicate of item 0" }),
      vm(4, { accountId: "0190d9a0-0000-7000-8000-000000000000" }),
    ];
    const before = await total();
    const res = await platform.request(UpsertResourcesDocument, { input }, admin);
    expect(res.data).toBeNull();
    const error = res.errors![0];
    expect(error.extensions?.code).toBe("BAD_USER_INPUT");
    const problems = error.extensions?.problems as Array<{ index: number; field: string }>;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ index: 1, field: "name" }),
        expect.objectContaining({ index: 2, field: "accountId" }),
        expect.objectContaining({ index: 2, field: "tags.owner" }),
        expect.objectContaining({ index: 3, field: "externalId" }),
      ]),
    );
    expect(problems.some((p) => p.index === 0)).toBe(false);
    expect(await total()).toBe(before);

    // An account that is not the tenant's is found once the shape is valid, still atomically.
    const unknownAccount = await platform.request(
      UpsertResourcesDocument,
      { input: [vm(1), input[4]] },
      admin,
    );
    expect(unknownAccount.errors![0].extensions?.problems).toEqual([
      { index: 1, field: "accountId", message: "no such account in this tenant" },
    ]);
    expect(await total()).toBe(before);
  });

  it("upserts idempotently on externalId and reports created, updated and unchanged items", async () => {
    const first = ok(
      await platform.request(UpsertResourcesDocument, { input: [vm(1), vm(2)] }, admin),
    ).upsertResources;
    expect(first).toMatchObject({ upsertedCount: 2, createdCount: 2, updatedCount: 0, unchangedCount: 0 });
    const again = ok(
      await platform.request(
        UpsertResourcesDocument,
        { input: [vm(1), vm(2, { tags: { environment: "staging" } })] },
        admin,
      ),
    ).upsertResources;
    expect(again).toMatchObject({ upsertedCount: 2, createdCount: 0, updatedCount: 1, unchangedCount: 1 });
    expect(again.ids).toEqual(first.ids);
    const one = ok(await platform.request(ResourceDocument, { id: first.ids[1] }, admin)).resource!;
    expect(one).toMatchObject({
      kind: "VIRTUAL_MACHINE",
      provider: "AZURE",
      tags: { environment: "staging" },
    });
    expect(one.account).toEqual({ id: azure, name: "Prod", provider: "AZURE" });
  });

  it("takes 10,000 resources in one call", async () => {
    const input = Array.from({ length: 10_000 }, (_, i) => vm(100 + i));
    const result = ok(await platform.request(UpsertResourcesDocument, { input }, admin)).upsertResources;
    expect(result.createdCount).toBe(10_000);
    expect(new Set(result.ids).size).toBe(10_000);
    expect(await total()).toBe(10_002);
  });

  it("writes an outbox event per changed resource in the same transaction", async () => {
    const admin = new Client({ connectionString: platform.db.url });
    await admin.connect();
    const { rows } = await admin.query(
      `SELECT topic, count(*)::int AS n FROM posture.outbox WHERE topic LIKE 'inventory.resource.%' GROUP BY topic ORDER BY topic`,
    );
    await admin.end();
    expect(rows).toEqual([
      { topic: "inventory.resource.created", n: 10_002 },
      { topic: "inventory.resource.updated", n: 1 },
    ]);
  });

  it("pages with opaque cursors, without gaps or repeats, in the requested order", async () => {
    const reader = await platform.token([Role.READER]);
    const filter = { search: "vm-0010" }; // vm-00100 … vm-00109
    const seen: string[] = [];
    let after: string | null | undefined;
    for (let page = 0; page < 5; page++) {
      const r = ok(
        await platform.request(
          ResourcesDocument,
          { filter, orderBy: { field: "NAME", direction: "DESC" }, first: 3, after },
          reader,
        ),
      ).resources;
      expect(r.totalCount).toBe(10);
      seen.push(...r.edges.map((e) => e.node.name));
      if (!r.pageInfo.hasNextPage) break;
      after = r.pageInfo.endCursor;
    }
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => `vm-${String(109 - i).padStart(5, "0")}`));
  });

  it("filters by kind, tag and search", async () => {
    const reader = await platform.token([Role.READER]);
    const byTag = ok(
      await platform.request(
        ResourcesDocument,
        { filter: { tag: { key: "environment", value: "staging" } } },
        reader,
      ),
    ).resources;
    expect(byTag.totalCount).toBe(1);
    const byKind = ok(
      await platform.request(ResourcesDocument, { filter: { kinds: ["STORAGE_ACCOUNT"] } }, reader),
    ).resources;
    expect(byKind.totalCount).toBe(0);
  });

  it("bounds page sizes and rejects foreign cursors with BAD_USER_INPUT", async () => {
    const reader = await platform.token([Role.READER]);
    for (const variables of [{ first: 0 }, { first: 101 }, { first: 5, after: "bm90LWEtY3Vyc29y" }]) {
      const res = await platform.request(ResourcesDocument, variables, reader);
      expect(res.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    }
  });

  it("enforces roles: readers cannot write, ingestors cannot read", async () => {
    const asReader = await platform.request(
      UpsertResourcesDocument,
      { input: [vm(1)] },
      await platform.token([Role.READER]),
    );
    expect(asReader.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    const asIngestor = await platform.request(ResourcesDocument, {}, await platform.token([Role.INGESTOR]));
    expect(asIngestor.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    const ingest = await platform.request(
      UpsertResourcesDocument,
      { input: [vm(1)] },
      await platform.token([Role.INGESTOR]),
    );
    expect(ingest.errors).toBeUndefined();
  });

  it("removes resources by id and ignores unknown ids", async () => {
    const { ids } = ok(
      await platform.request(UpsertResourcesDocument, { input: [vm(1), vm(2)] }, admin),
    ).upsertResources;
    const removed = ok(
      await platform.request(
        RemoveResourcesDocument,
        { ids: [ids[0], "0190d9a0-0000-7000-8000-00000000abcd"] },
        admin,
      ),
    ).removeResources;
    expect(removed).toEqual({ removedCount: 1, removedIds: [ids[0]] });
    expect(ok(await platform.request(ResourceDocument, { id: ids[0] }, admin)).resource).toBeNull();
    const bad = await platform.request(RemoveResourcesDocument, { ids: ["nope"] }, admin);
    expect(bad.errors?.[0].extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      problems: [{ index: 0, field: "ids" }],
    });
  });
});
