import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import {
  IngestAlertsDocument,
  KeysetAccountsDocument,
  KeysetAffectedResourcesDocument,
  KeysetAlertsDocument,
  KeysetAppControlGroupsDocument,
  KeysetDetectionsDocument,
  KeysetEntityAlertsDocument,
  KeysetEventsDocument,
  KeysetFileChangesDocument,
  KeysetIncidentsDocument,
  KeysetJitAuditLogDocument,
  KeysetJitRequestsDocument,
  KeysetResourceAssessmentsDocument,
  KeysetResourcesDocument,
  KeysetThreatIndicatorsDocument,
  KeysetRecommendationsDocument,
  type RecommendationOrderField,
  ImportStixBundleDocument,
  type IncidentOrderField,
  type OrderDirection,
  type ResourceOrderField,
} from "./__generated__/graphql";
import { inTenant, Role } from "../subgraphs/common/src";
import { startTestPlatform, type GqlResponse, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";
import { ingestTelemetry, ndjson, seedMachines } from "./utils/workload";

/** The part of a connection paging needs. */
interface Page {
  nodes: Array<{ id: string }>;
  pageInfo: { hasNextPage: boolean; endCursor?: string | null };
  totalCount?: number;
}

const uuid = "01900000-0000-7000-8000-000000000000";
/** A cursor as a client could make one by hand. */
const cursor = (key: unknown) => Buffer.from(JSON.stringify(key)).toString("base64url");

/**
 * Keyset pagination of every subgraph, through the gateway on the real platform. Rows written in one
 * transaction share a time finer than the millisecond cursors carry: paging through such a batch a page
 * at a time must return every row exactly once. A cursor the list did not make (by hand, or from a list
 * with another ordering) is BAD_USER_INPUT, never an internal error from a failed cast in SQL.
 */
describe("keyset pagination: nothing skipped or repeated, crafted cursors refused", () => {
  let platform: TestPlatform;
  /** Posture and protection rows (the fixtures' machines, their file changes). */
  const W = "keyset-workload";
  /** SIEM rows, apart: critical file changes of W become alerts there. */
  const S = "keyset-siem";
  let admin: string;
  let adminS: string;
  let machines: Record<string, string>;

  /** Every id of a list, page after page by `endCursor` (a page repeating forever fails the test). */
  async function collect(read: (after: string | undefined) => Promise<Page>): Promise<string[]> {
    const seen: string[] = [];
    let after: string | undefined;
    for (let i = 0; i < 50; i++) {
      const page = await read(after);
      seen.push(...page.nodes.map((n) => n.id));
      if (!page.pageInfo.hasNextPage) return seen;
      after = page.pageInfo.endCursor ?? undefined;
    }
    throw new Error(`no last page after 50 pages: ${seen.length} items`);
  }

  /**
   * Pages a list by `first` and expects the whole list (one request of 100), each row once, in order; every
   * page, and one asked for past the end, counts the whole list (`totalCount`).
   */
  async function expectWholeList(first: number, read: (first: number, after?: string) => Promise<Page>) {
    const whole = (await read(100)).nodes.map((n) => n.id);
    const totals: Array<number | undefined> = [];
    let last: string | undefined;
    const paged = await collect(async (after) => {
      const page = await read(first, after);
      totals.push(page.totalCount);
      last = page.pageInfo.endCursor ?? last;
      return page;
    });
    expect(paged).toEqual(whole);
    expect(new Set(paged).size).toBe(paged.length);
    const past = await read(first, last);
    expect(past.nodes).toEqual([]);
    expect([...totals, past.totalCount]).toEqual([...totals, past.totalCount].map(() => whole.length));
    return whole;
  }

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    [admin, adminS] = await Promise.all([
      platform.token([Role.ADMIN, Role.INGESTOR], W),
      platform.token([Role.ADMIN, Role.INGESTOR], S),
    ]);
    // Seven machines in one upsert: one `now()` for all of their first_seen and last_seen.
    ({ byName: machines } = await seedMachines(platform, W));
  });
  afterAll(() => platform?.stop());

  it("posture: pages resources created in one upsert by first and last seen, each once", async () => {
    const posture = await platform.connect("posture");
    const [{ n }] = await inTenant(posture, W, (m) =>
      m.query(`SELECT count(DISTINCT first_seen)::int AS n FROM resources`),
    );
    expect(n).toBe(1);
    const fields: ResourceOrderField[] = ["FIRST_SEEN", "LAST_SEEN"];
    const directions: OrderDirection[] = ["ASC", "DESC"];
    for (const field of fields)
      for (const direction of directions) {
        const whole = await expectWholeList(2, async (first, after) => {
          const orderBy = { field, direction };
          return ok(await platform.request(KeysetResourcesDocument, { orderBy, first, after }, admin))
            .resources;
        });
        expect([...whole].sort()).toEqual(Object.values(machines).sort());
      }
  });

  it("protection: pages file changes within one millisecond, and the detections they raised, each once", async () => {
    // Agents send times with any precision: five changes of one machine inside the same millisecond.
    const at = new Date(Date.now() - 86_400_000).toISOString().slice(0, 23);
    const paths = ["/etc/passwd", "/etc/shadow", "/etc/group", "/etc/sudoers", "/etc/ssh/sshd_config"];
    const ids = paths.map((_, i) => `keyset-fim-${i}`);
    await ingestTelemetry(
      platform,
      ndjson(
        paths.map((path, i) => ({
          kind: "file",
          id: ids[i],
          resourceId: machines["vm-web-prod-01"],
          time: `${at}${100 + i * 150}Z`,
          host: "vm-web-prod-01",
          action: "modified",
          path,
          sha256: String(i).repeat(64),
          user: "root",
        })),
      ),
      admin,
    );
    const changes = await expectWholeList(2, async (first, after) => {
      const id = machines["vm-web-prod-01"];
      return ok(await platform.request(KeysetFileChangesDocument, { id, first, after }, admin)).resource!
        .fileChanges;
    });
    expect([...changes].sort()).toEqual(ids);
    const detections = await expectWholeList(1, async (first, after) => {
      return ok(await platform.request(KeysetDetectionsDocument, { first, after }, admin)).detections;
    });
    expect(detections.length).toBeGreaterThan(1);
  });

  it("siem: pages the alerts and incidents of one ingest, each once, in every time order", async () => {
    const ids = ok(
      await platform.request(
        IngestAlertsDocument,
        {
          input: Array.from({ length: 6 }, (_, i) => ({
            sourceId: `keyset-${i}`,
            title: `Keyset alert ${i}`,
            severity: "MEDIUM" as const,
            entities: [{ type: "HOST" as const, value: `keyset-host-${i}` }],
          })),
        },
        adminS,
      ),
    ).ingestAlerts.ids as string[];
    const siem = await platform.connect("siem");
    const [{ n }] = await inTenant(siem, S, (m) =>
      m.query(`SELECT count(DISTINCT created_at)::int AS n FROM alerts`),
    );
    expect(n).toBe(1);
    const alerts = await expectWholeList(2, async (first, after) => {
      return ok(await platform.request(KeysetAlertsDocument, { first, after }, adminS)).alerts;
    });
    expect([...alerts].sort()).toEqual([...ids].sort());
    const fields: IncidentOrderField[] = ["CREATED_AT", "LAST_ACTIVITY"];
    const directions: OrderDirection[] = ["ASC", "DESC"];
    for (const field of fields)
      for (const direction of directions) {
        const incidents = await expectWholeList(2, async (first, after) => {
          const orderBy = { field, direction };
          return ok(await platform.request(KeysetIncidentsDocument, { orderBy, first, after }, adminS))
            .incidents;
        });
        expect(incidents).toHaveLength(6);
      }
  });

  it("posture: pages recommendations in every order, each once, by cursors that carry the order's value", async () => {
    type Recs = { recommendations: Page };
    for (const field of ["POTENTIAL_SCORE_INCREASE", "SEVERITY", "UNHEALTHY_COUNT", "TITLE"] as const)
      for (const direction of ["ASC", "DESC"] as const) {
        const orderBy = { field: field as RecommendationOrderField, direction: direction as OrderDirection };
        const whole = await expectWholeList(
          1,
          async (first, after) =>
            ok<Recs>(
              (await platform.request(
                KeysetRecommendationsDocument,
                { first, after, orderBy },
                admin,
              )) as GqlResponse<Recs>,
            ).recommendations,
        );
        expect(whole.length).toBeGreaterThan(1);
      }
  });

  it("posture: pages lists hanging off a parent (a resource's assessments, a recommendation's resources) with the whole count on every page", async () => {
    const machine = machines["vm-web-prod-01"];
    const assessments = await expectWholeList(7, async (first, after) => {
      return ok(
        await platform.request(KeysetResourceAssessmentsDocument, { id: machine, first, after }, admin),
      ).resource!.assessments;
    });
    expect(assessments.length).toBeGreaterThan(7);
    // The recommendation with the most unhealthy machines, paged one machine at a time.
    const all = ok(await platform.request(KeysetAffectedResourcesDocument, { first: 100 }, admin))
      .recommendations.nodes;
    const widest = all.reduce((a, b) => (b.unhealthyCount > a.unhealthyCount ? b : a));
    expect(widest.unhealthyCount).toBeGreaterThan(2);
    const affected = await expectWholeList(1, async (first, after) => {
      const page = ok(await platform.request(KeysetAffectedResourcesDocument, { first, after }, admin))
        .recommendations.nodes;
      return page.find((r) => r.id === widest.id)!.affectedResources;
    });
    expect(affected).toHaveLength(widest.unhealthyCount);
  });

  it("siem: pages threat indicators by id in SQL, with a true total and the active ones apart", async () => {
    // 130 indicators: more than one request of 100 shows. Every seventh is revoked, the last two expired.
    const objects = Array.from({ length: 130 }, (_, i) => ({
      type: "indicator",
      spec_version: "2.1",
      id: `indicator--${String(i).padStart(8, "0")}-0000-4000-8000-000000000000`,
      created: "2026-11-01T00:00:00.000Z",
      modified: "2026-11-01T00:00:00.000Z",
      pattern: `[ipv4-addr:value = '198.51.100.${i % 250}']`,
      pattern_type: "stix",
      valid_from: "2026-01-01T00:00:00Z",
      ...(i >= 128 ? { valid_until: "2026-02-01T00:00:00Z" } : {}),
      ...(i % 7 === 0 ? { revoked: true } : {}),
    }));
    const bundle = { type: "bundle", id: "bundle--00000000-0000-4000-8000-000000000130", objects };
    expect(
      ok(await platform.request(ImportStixBundleDocument, { bundle }, adminS)).importStixBundle,
    ).toMatchObject({
      problems: [],
    });
    type Indicators = { threatIndicators: Page & { totalCount: number } };
    const read = async (first: number, after?: string, activeOnly = false) =>
      ok<Indicators>(
        (await platform.request(
          KeysetThreatIndicatorsDocument,
          { first, after, activeOnly },
          adminS,
        )) as GqlResponse<Indicators>,
      ).threatIndicators;
    const all = await collect((after) => read(30, after));
    expect(all).toHaveLength(130);
    expect(new Set(all).size).toBe(130);
    expect([...all].sort()).toEqual(all);
    expect((await read(1)).totalCount).toBe(130);
    const active = await collect((after) => read(30, after, true));
    const revoked = objects.filter((_, i) => i % 7 === 0 || i >= 128).length;
    expect(active).toHaveLength(130 - revoked);
    expect((await read(1, undefined, true)).totalCount).toBe(130 - revoked);
    // After the last indicator: an empty page, not the list again.
    const tail = await read(100, (await read(30)).pageInfo.endCursor ?? undefined);
    expect(tail.pageInfo.hasNextPage).toBe(false);
    expect((await read(1, tail.pageInfo.endCursor ?? undefined)).nodes).toEqual([]);
  });

  it("refuses cursors the list did not make with BAD_USER_INPUT in every subgraph", async () => {
    const byHand = [cursor(["abc", uuid]), cursor([1, "x"])];
    const timeCursor = cursor(["2026-01-01T00:00:00.000Z", uuid]);
    /** A list, its token, and cursors it must refuse. */
    const cases: Array<[string, (after: string) => Promise<GqlResponse<unknown>>, string[]]> = [];
    const add = <V extends { after?: string | null }>(
      name: string,
      doc: TypedDocumentNode<unknown, V>,
      variables: Omit<V, "after">,
      token: string,
      cursors: string[],
    ) => cases.push([name, (after) => platform.request(doc, { ...variables, after } as V, token), cursors]);
    const byName = { field: "NAME", direction: "ASC" } as const;
    const firstSeen = { field: "FIRST_SEEN", direction: "DESC" } as const;
    // Names are text: "abc" is a name, but not a number, nothing or an id that is no UUID.
    const byNameHand = [cursor([1, uuid]), cursor([null, uuid]), cursor(["abc", "x"])];
    add("resources by name", KeysetResourcesDocument, { orderBy: byName }, admin, byNameHand);
    add("resources by first seen", KeysetResourcesDocument, { orderBy: firstSeen }, admin, [
      ...byHand,
      cursor(["+275760-09-13T00:00:00.000Z", uuid]),
    ]);
    add("accounts", KeysetAccountsDocument, {}, admin, byNameHand);
    add("file changes", KeysetFileChangesDocument, { id: machines["vm-web-prod-01"] }, admin, [
      ...byHand,
      cursor(["abc", "keyset-fim-1"]),
    ]);
    add("detections", KeysetDetectionsDocument, {}, admin, byHand);
    add("JIT requests", KeysetJitRequestsDocument, {}, admin, [...byHand, timeCursor]);
    add("JIT audit log", KeysetJitAuditLogDocument, { resourceId: uuid }, admin, [
      ...byHand,
      cursor([null, "99999999999999999999"]),
    ]);
    add("app control groups", KeysetAppControlGroupsDocument, {}, admin, byNameHand);
    add("alerts", KeysetAlertsDocument, {}, adminS, [...byHand, cursor(["0000-01-01T00:00:00Z", uuid])]);
    add("incidents", KeysetIncidentsDocument, {}, adminS, byHand);
    for (const field of ["NUMBER", "SEVERITY"] as const)
      add(
        `incidents by ${field}`,
        KeysetIncidentsDocument,
        { orderBy: { field, direction: "DESC" } },
        adminS,
        [...byHand, timeCursor],
      );
    add("recommendations", KeysetRecommendationsDocument, {}, admin, [
      cursor([null, "x"]),
      cursor(["not json", "x"]),
      cursor([JSON.stringify(["title", 1.5]), "x"]),
      cursor(["[1]", "x"]),
    ]);
    add("threat indicators", KeysetThreatIndicatorsDocument, {}, adminS, [
      cursor(["abc", uuid]),
      cursor([null, "x"]),
    ]);
    add("events", KeysetEventsDocument, {}, adminS, [
      ...byHand,
      cursor(["+275760-09-13T00:00:00.000Z", uuid]),
    ]);
    add(
      "an entity's alerts",
      KeysetEntityAlertsDocument,
      { type: "HOST", value: "keyset-host-1" },
      adminS,
      byHand,
    );
    const refused = [];
    for (const [name, read, cursors] of cases)
      for (const after of cursors) {
        const res = await read(after);
        refused.push([name, after, res.errors?.[0]?.extensions?.code, res.errors?.[0]?.message]);
      }
    expect(refused).toEqual(
      refused.map(([name, after]) => [
        name,
        after,
        "BAD_USER_INPUT",
        expect.stringMatching(/^Invalid cursor in `after`\./),
      ]),
    );
  });
});
