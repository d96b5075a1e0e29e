import type { DataSource } from "typeorm";
import {
  RemoveResourcesDocument,
  UpsertAccountsDocument,
  UpsertResourcesDocument,
  type ResourceInput,
} from "./__generated__/graphql";
import { inTenant, Role } from "../subgraphs/common/src";
import { evaluateTenant } from "../subgraphs/posture/src/modules/assessments/assessment.runner";
import { syntheticResources } from "../scripts/lib/demo-estate";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

/** A small deterministic PRNG (mulberry32), so a failing seed can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Flips, deletes or rewrites a few values somewhere in a JSON object. */
function mutate(value: unknown, rnd: () => number, depth = 0): unknown {
  if (Array.isArray(value))
    return value.map((v) => (rnd() < 0.3 ? mutate(v, rnd, depth + 1) : v)).filter(() => rnd() > 0.05);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const r = rnd();
      if (r < 0.05 && depth > 0) continue;
      out[k] = r < 0.35 ? mutate(v, rnd, depth + 1) : v;
    }
    return out;
  }
  if (typeof value === "boolean") return rnd() < 0.5 ? !value : value;
  if (typeof value === "number") return rnd() < 0.5 ? Math.floor(rnd() * 5000) : value;
  if (typeof value === "string")
    return rnd() < 0.2
      ? ["Enabled", "Disabled", "TLS1_0", "TLS1_2", "*", "Internet", "3389", "22", ""][Math.floor(rnd() * 9)]
      : value;
  return value;
}

describe("posture engine: incremental evaluation equals full re-evaluation", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  let admin: string;
  const tenant = "tenant-prop";

  const snapshot = () =>
    inTenant(ds, tenant, async (m) => ({
      assessments: await m.query(
        `SELECT resource_id, definition_id, account_id, control_id, source, status, raw_status, cause FROM assessments ORDER BY 1, 2`,
      ),
      controlStates: await m.query(
        `SELECT resource_id, control_id, account_id, healthy_count, unhealthy_count, na_count FROM control_states ORDER BY 1, 2`,
      ),
      counters: await m.query(
        `SELECT account_id, control_id, healthy, unhealthy, not_applicable FROM score_counters
         WHERE healthy <> 0 OR unhealthy <> 0 OR not_applicable <> 0 ORDER BY 1, 2`,
      ),
    }));

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    ds = await platform.connect("posture");
    admin = await platform.token([Role.ADMIN], tenant);
  });
  afterAll(async () => {
    await ds?.destroy();
    await platform?.stop();
  });

  it.each([1, 2, 3])("holds over a random estate and random changes (seed %i)", async (seed) => {
    const rnd = prng(seed);
    const accounts = ok(
      await platform.request(
        UpsertAccountsDocument,
        {
          input: [
            { provider: "AZURE", externalId: `az-${seed}`, name: "A" },
            { provider: "AWS", externalId: `aws-${seed}`, name: "B" },
          ],
        },
        admin,
      ),
    ).upsertCloudAccounts;
    const estate: ResourceInput[] = [
      ...syntheticResources(150, "azure", seed).map((r) => ({ ...r, accountId: accounts[0].id })),
      ...syntheticResources(100, "aws", seed).map((r) => ({ ...r, accountId: accounts[1].id })),
    ].map(({ accountKey: _k, ...r }) => ({ ...r, externalId: `${seed}:${r.externalId}` }) as ResourceInput);
    const { ids } = ok(
      await platform.request(UpsertResourcesDocument, { input: estate }, admin),
    ).upsertResources;

    const alive = new Map(estate.map((r, i) => [ids[i], r]));
    for (let round = 0; round < 6; round++) {
      const batch = [...alive.entries()].filter(() => rnd() < 0.15);
      const changed = batch.map(([, r]) => ({
        ...r,
        properties: mutate(r.properties, rnd) as Record<string, unknown>,
      }));
      if (changed.length) ok(await platform.request(UpsertResourcesDocument, { input: changed }, admin));
      for (const c of changed)
        alive.set([...alive.entries()].find(([, r]) => r.externalId === c.externalId)![0], c);
      const removed = [...alive.keys()].filter(() => rnd() < 0.03);
      if (removed.length) ok(await platform.request(RemoveResourcesDocument, { ids: removed }, admin));
      for (const id of removed) alive.delete(id);
    }

    const incremental = await snapshot();
    expect(incremental.assessments.length).toBeGreaterThan(200);
    expect(incremental.assessments.some((a: { status: string }) => a.status === "UNHEALTHY")).toBe(true);

    // Full re-evaluation from nothing must land on exactly the same state.
    await inTenant(ds, tenant, async (m) => {
      await m.query(`DELETE FROM assessments WHERE source <> 'EXTERNAL'`);
      await m.query(`DELETE FROM control_states`);
      await m.query(`DELETE FROM score_counters`);
      await evaluateTenant(m, tenant);
    });
    expect(await snapshot()).toEqual(incremental);
  });
});
