import {
  RemoveResourcesDocument,
  UpsertAccountsDocument,
  UpsertAssessmentsDocument,
  UpsertResourcesDocument,
  type ResourceInput,
} from "./__generated__/graphql";
import { Role } from "../subgraphs/common/src";
import { syntheticResources } from "../scripts/lib/demo-estate";
import { startTestPlatform, type GqlResponse, type TestPlatform } from "./utils/platform";
import { ok, resourceInputOf } from "./utils/seed";

/**
 * Integrators' batches that touch the same resources at the same time, in whatever order each lists them, never
 * deadlock: the posture subgraph locks a batch's existing resources in one order (their ids) whatever the order of
 * its input, in `upsertResources`, `removeResources` and `upsertAssessments` alike; `upsertCloudAccounts` upserts
 * accounts in (provider, external id) order. Before, two batches naming the
 * same resources in opposite orders could each hold a row the other waited for, and one was answered UNAVAILABLE
 * (DEADLOCK) after Postgres's deadlock timeout: a client had to sort its batches to avoid it.
 */
describe("posture: concurrent batches over the same resources", () => {
  let platform: TestPlatform;
  let admin: string;
  let accountId: string;
  const TENANT = "tenant-lock-order";

  beforeAll(async () => {
    platform = await startTestPlatform();
    admin = await platform.token([Role.ADMIN], TENANT);
    accountId = ok(
      await platform.request(
        UpsertAccountsDocument,
        {
          input: [{ provider: "AZURE", externalId: "6f1d0c2a-8e3b-4a57-b9c4-2d7e5f8a1c36", name: "Shared" }],
        },
        admin,
      ),
    ).upsertCloudAccounts[0].id;
  });
  afterAll(() => platform?.stop());

  /**
   * `count` AWS resources of the demo estate's shapes; `round` changes their configuration (so each upsert updates).
   * AWS, since batches with Azure resource ids are serialised per tenant anyway (see `storedArmIds`).
   */
  const batch = (count: number, round: number): ResourceInput[] =>
    syntheticResources(count, "aws", 7).map((r) => ({
      ...resourceInputOf(r),
      accountId,
      tags: { ...(resourceInputOf(r).tags ?? {}), round: String(round) },
    }));

  /** Every error an answer carries, as `CODE/reason message`. */
  const problems = (what: string, res: GqlResponse<unknown>) =>
    (res.errors ?? []).map(
      (e) => `${what}: ${String(e.extensions?.code)}/${String(e.extensions?.reason ?? "")} ${e.message}`,
    );

  it("upserts the same resources listed in opposite orders, at once, without a deadlock", async () => {
    ok(await platform.request(UpsertResourcesDocument, { input: batch(60, 0) }, admin));
    const errors: string[] = [];
    for (let round = 1; round <= 6; round++) {
      // The 60 resources again, or (every other round) 100 the inventory does not hold yet, which all three batches
      // create at once (no existing row to lock first: the inserts' own order counts).
      const withNew = (configuration: number) =>
        round % 2
          ? batch(100, configuration).map((r) => ({ ...r, externalId: `${r.externalId}/round-${round}` }))
          : [
              ...batch(60, configuration),
              ...batch(40, configuration).map((r) => ({
                ...r,
                externalId: `${r.externalId}/round-${round}`,
              })),
            ];
      const forward = withNew(round);
      const backward = withNew(round + 100).reverse();
      const shuffled = withNew(round + 200).sort((a, b) => (a.name < b.name ? 1 : -1));
      const answers = await Promise.all(
        [forward, backward, shuffled].map((input) =>
          platform.request(UpsertResourcesDocument, { input }, admin),
        ),
      );
      answers.forEach((res, i) => errors.push(...problems(`round ${round}, batch ${i}`, res)));
      for (const res of answers) if (!res.errors) expect(res.data!.upsertResources.upsertedCount).toBe(100);
    }
    expect(errors).toEqual([]);
  });

  it("upserts the same accounts listed in opposite orders, at once, without a deadlock", async () => {
    const accounts = (round: number) =>
      Array.from({ length: 400 }, (_, i) => ({
        provider: "AWS" as const,
        externalId: String(400000000000 + i),
        name: `Account ${i} (${round})`,
      }));
    const errors: string[] = [];
    for (let round = 1; round <= 6; round++) {
      const answers = await Promise.all(
        [accounts(round), [...accounts(round + 100)].reverse(), accounts(round + 200).reverse()].map(
          (input) => platform.request(UpsertAccountsDocument, { input }, admin),
        ),
      );
      answers.forEach((res, i) => errors.push(...problems(`round ${round}, batch ${i}`, res)));
    }
    expect(errors).toEqual([]);
  });

  it("removes, upserts and reports on the same resources at once, in opposite orders, without a deadlock", async () => {
    const errors: string[] = [];
    for (let round = 1; round <= 6; round++) {
      const input = batch(40, round);
      const ids = ok(await platform.request(UpsertResourcesDocument, { input }, admin)).upsertResources.ids;
      const reports = (order: string[]) =>
        order.map((resourceId) => ({
          resourceId,
          definitionKey: "scanner.lock-order",
          title: "Scanner finding",
          severity: "HIGH" as const,
          controlId: "remediate-security-configurations",
          status: "UNHEALTHY" as const,
        }));
      const answers = await Promise.all([
        platform.request(UpsertResourcesDocument, { input: [...batch(40, round + 100)].reverse() }, admin),
        platform.request(UpsertAssessmentsDocument, { input: reports([...ids].reverse()) }, admin),
        platform.request(UpsertAssessmentsDocument, { input: reports(ids) }, admin),
        platform.request(RemoveResourcesDocument, { ids: ids.filter((_, i) => i % 2 === round % 2) }, admin),
      ]);
      answers.forEach((res, i) => errors.push(...problems(`round ${round}, operation ${i}`, res)));
    }
    expect(errors).toEqual([]);
  });
});
