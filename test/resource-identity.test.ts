import type { DataSource } from "typeorm";
import {
  IngestAlertsDocument,
  UpsertAccountsDocument,
  UpsertResourcesDocument,
} from "./__generated__/graphql";
import { inTenant, Role } from "../subgraphs/common/src";
import { startTestPlatform, postGraphql, type TestPlatform } from "./utils/platform";
import { problems } from "./utils/errors";
import { ok } from "./utils/seed";

/**
 * Which provider ids name one resource: Azure compares ARM ids without regard to letter case, AWS compares
 * ARNs exactly. The inventory stores one resource per ARM id whatever its spelling (also when two batches
 * race), two per ARN that differ in case, and an alert finds the resource it names: the id as written
 * first, then one that differs only in case, never one picked by row order.
 */

const A = "tenant-a";
const VAULT = "Microsoft.KeyVault/vaults";
const LAMBDA = "AWS::Lambda::Function";
const ARM =
  "/subscriptions/0b1f6a2c-0000-4000-8000-000000000001/resourceGroups/Payments/providers/Microsoft.KeyVault/vaults/KV-Pay";
const LAMBDA_UPPER = "arn:aws:lambda:eu-west-1:123456789012:function:Settle";
const LAMBDA_LOWER = "arn:aws:lambda:eu-west-1:123456789012:function:settle";

describe("resource identity: ARM ids without regard to case, ARNs exactly", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  let admin: string;
  let ingestor: string;
  let azure: string;
  let aws: string;

  const upsert = (externalId: string, accountId: string, type: string, name = "res") =>
    platform.request(UpsertResourcesDocument, { input: [{ accountId, externalId, type, name }] }, admin);
  const stored = (like: string) =>
    inTenant(ds, A, (m) =>
      m.query(
        `SELECT id, external_id, name FROM resources WHERE external_id ILIKE $1 ORDER BY first_seen, id`,
        [like],
      ),
    ) as Promise<Array<{ id: string; external_id: string; name: string }>>;

  /** The resource (id) each alert resolves to: one EXTERNAL alert per external id, read back through the gateway. */
  async function resolved(externalIds: string[]): Promise<Array<string | null>> {
    const tag = Math.random().toString(36).slice(2);
    const ids = ok(
      await platform.request(
        IngestAlertsDocument,
        {
          input: externalIds.map((value, i) => ({
            provider: "EXTERNAL" as const,
            sourceId: `identity-${tag}-${i}`,
            title: `About ${value}`,
            severity: "LOW" as const,
            entities: [{ type: "RESOURCE" as const, value }],
          })),
        },
        ingestor,
      ),
    ).ingestAlerts.ids;
    const res = await postGraphql<{
      alerts: { nodes: Array<{ id: string; resource: { id: string } | null }> };
    }>(
      platform.gateway.url,
      { query: `{ alerts(first: 100) { nodes { id resource { id } } } }` },
      { authorization: `Bearer ${admin}` },
    );
    expect(res.errors).toBeUndefined();
    const byAlert = new Map(res.data!.alerts.nodes.map((n) => [n.id, n.resource?.id ?? null]));
    return ids.map((id) => byAlert.get(id!) ?? null);
  }

  beforeAll(async () => {
    platform = await startTestPlatform();
    ds = await platform.connect("posture");
    ({ admin, ingestor } = await platform.tokens({
      admin: [[Role.ADMIN], A],
      ingestor: [[Role.INGESTOR], A],
    }));
    const accounts = ok(
      await platform.request(
        UpsertAccountsDocument,
        {
          input: [
            { provider: "AZURE", externalId: "0b1f6a2c-0000-4000-8000-000000000001", name: "Payments" },
            { provider: "AWS", externalId: "123456789012", name: "Settlement" },
          ],
        },
        admin,
      ),
    ).upsertCloudAccounts;
    [azure, aws] = accounts.map((a) => a.id);
  }, 120_000);

  afterAll(async () => {
    await platform?.stop();
  });

  it("an ARM id in another letter case updates the stored resource, keeping its first spelling", async () => {
    const first = ok(await upsert(ARM, azure, VAULT, "kv-pay")).upsertResources;
    expect(first.createdCount).toBe(1);
    const again = ok(await upsert(ARM.toLowerCase(), azure, VAULT, "kv-pay-renamed")).upsertResources;
    expect([again.createdCount, again.updatedCount, again.ids]).toEqual([0, 1, first.ids]);
    const upper = ok(await upsert(ARM.toUpperCase(), azure, VAULT, "kv-pay-renamed")).upsertResources;
    expect([upper.createdCount, upper.unchangedCount, upper.ids]).toEqual([0, 1, first.ids]);
    expect(await stored(ARM)).toEqual([{ id: first.ids[0], external_id: ARM, name: "kv-pay-renamed" }]);
  });

  it("refuses one ARM id in two spellings within a batch, and accepts two ARNs that differ in case", async () => {
    const twice = await platform.request(
      UpsertResourcesDocument,
      {
        input: [
          { accountId: azure, externalId: `${ARM}/x`, type: VAULT, name: "a" },
          { accountId: azure, externalId: `${ARM}/X`, type: VAULT, name: "b" },
        ],
      },
      admin,
    );
    expect(problems(twice)).toEqual(["[1].externalId: duplicates item 0 in this batch"]);
    expect(await stored(`${ARM}/x`)).toEqual([]);
    const both = ok(
      await platform.request(
        UpsertResourcesDocument,
        {
          input: [
            { accountId: aws, externalId: LAMBDA_UPPER, type: LAMBDA, name: "Settle" },
            { accountId: aws, externalId: LAMBDA_LOWER, type: LAMBDA, name: "settle" },
          ],
        },
        admin,
      ),
    ).upsertResources;
    expect(both.createdCount).toBe(2);
    expect((await stored(LAMBDA_LOWER)).map((r) => r.external_id)).toEqual([LAMBDA_UPPER, LAMBDA_LOWER]);
  });

  it("batches racing to create one ARM id in different spellings create it once", async () => {
    const id = ARM.replace("KV-Pay", "KV-Race");
    const spellings = [id, id.toLowerCase(), id.toUpperCase(), id.replace("Payments", "PAYMENTS"), id];
    const answers = await Promise.all(spellings.map((s) => upsert(s, azure, VAULT, "kv-race")));
    const ids = answers.map((a) => ok(a).upsertResources.ids[0]);
    expect(new Set(ids).size).toBe(1);
    expect(answers.reduce((n, a) => n + ok(a).upsertResources.createdCount, 0)).toBe(1);
    expect(await stored(id)).toHaveLength(1);
  });

  it("an alert resolves to the resource it names exactly, else to one differing only in case", async () => {
    const [vault] = await stored(ARM);
    const [settleUpper, settleLower] = await stored(LAMBDA_LOWER);
    expect(
      await resolved([
        LAMBDA_UPPER,
        LAMBDA_LOWER,
        LAMBDA_LOWER.toUpperCase(),
        ARM.toLowerCase(),
        `${ARM.toUpperCase()}/PROVIDERS/MICROSOFT.INSIGHTS/DIAGNOSTICSETTINGS/AUDIT`,
        "arn:aws:lambda:eu-west-1:123456789012:function:unknown",
      ]),
    ).toEqual([
      settleUpper.id,
      settleLower.id,
      // Neither is written so: the one the inventory saw first.
      settleUpper.id,
      vault.id,
      vault.id,
      null,
    ]);
  });

  it("a resource lists the alerts and incidents naming it (by ARM id in any case, by its id, or beneath it), and no others", async () => {
    const id = ARM.replace("KV-Pay", "KV-Listed");
    const [vault] = ok(await upsert(id, azure, VAULT, "kv-listed")).upsertResources.ids;
    const other = ok(await upsert(`${id}-other`, azure, VAULT, "kv-other")).upsertResources.ids[0];
    const tag = Math.random().toString(36).slice(2);
    const named = [
      id.toLowerCase(),
      id.toUpperCase(),
      vault,
      `${id.toUpperCase()}/PROVIDERS/MICROSOFT.INSIGHTS/DIAGNOSTICSETTINGS/AUDIT`,
      `${id}-other`,
    ];
    const ids = ok(
      await platform.request(
        IngestAlertsDocument,
        {
          input: named.map((value, i) => ({
            provider: "EXTERNAL" as const,
            sourceId: `listed-${tag}-${i}`,
            title: `About ${value}`,
            severity: "LOW" as const,
            entities: [{ type: "RESOURCE" as const, value }],
          })),
        },
        ingestor,
      ),
    ).ingestAlerts.ids;
    const listed = async (resource: string) => {
      const res = await postGraphql<{
        resource: {
          alerts: { totalCount: number; nodes: Array<{ id: string }> };
          incidents: { totalCount: number; nodes: Array<{ alerts: { nodes: Array<{ id: string }> } }> };
        };
      }>(
        platform.gateway.url,
        {
          query: `query ($id: ID!) { resource(id: $id) {
            alerts(first: 10) { totalCount nodes { id } }
            incidents(first: 10) { totalCount nodes { alerts(first: 10) { nodes { id } } } } } }`,
          variables: { id: resource },
        },
        { authorization: `Bearer ${admin}` },
      );
      expect(res.errors).toBeUndefined();
      return res.data!.resource;
    };
    const mine = await listed(vault);
    expect(mine.alerts.nodes.map((a) => a.id).sort()).toEqual(ids.slice(0, 4).sort());
    expect(mine.alerts.totalCount).toBe(4);
    expect(mine.incidents.totalCount).toBeGreaterThan(0);
    const inIncidents = mine.incidents.nodes.flatMap((i) => i.alerts.nodes.map((a) => a.id));
    expect(ids.slice(0, 4).every((a) => inIncidents.includes(a!))).toBe(true);
    // `${id}-other` extends the vault's id as text, but is not beneath it.
    expect((await listed(other)).alerts.nodes.map((a) => a.id)).toEqual([ids[4]]);
  });
});
