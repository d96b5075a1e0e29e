import { Client } from "pg";
import { SignJWT } from "jose";
import {
  AccountsDocument,
  RemoveResourcesDocument,
  ResourceDocument,
  ResourcesDocument,
  IncidentsDocument,
} from "./__generated__/graphql";
import { IDENTITY_HEADER, Role, roleUrl, roleName } from "../subgraphs/common/src";
import { postGraphql, startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok, seedTenant, type SeededTenant } from "./utils/seed";

const ENTITIES = `query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Resource { id name } ... on CloudAccount { id name } } }`;
const SIEM_ENTITIES = `query($representations: [_Any!]!) { _entities(representations: $representations) { ... on SecurityAlert { id title } ... on Resource { alerts { totalCount } } } }`;

describe("tenant isolation", () => {
  let platform: TestPlatform;
  let a: SeededTenant;
  let b: SeededTenant;

  beforeAll(async () => {
    platform = await startTestPlatform();
    a = await seedTenant(platform, "tenant-a", 12);
    b = await seedTenant(platform, "tenant-b", 9);
  });
  afterAll(() => platform?.stop());

  it("shows tenant B none of tenant A's accounts, resources or alerts through the gateway", async () => {
    const readerB = await platform.token([Role.READER], "tenant-b");
    const resources = ok(await platform.request(ResourcesDocument, { first: 100 }, readerB)).resources;
    expect(resources.totalCount).toBe(9);
    expect(resources.edges.map((e) => e.node.id).sort()).toEqual([...b.resourceIds].sort());
    const accounts = ok(await platform.request(AccountsDocument, {}, readerB)).accounts;
    expect(accounts.nodes.map((n) => n.id).sort()).toEqual(Object.values(b.accountIds).sort());
    expect(
      ok(await platform.request(ResourceDocument, { id: a.resourceIds[0] }, readerB)).resource,
    ).toBeNull();
    const incidents = ok(await platform.request(IncidentsDocument, {}, readerB)).incidents;
    // B's own alerts opened B's incidents; none of A's alerts appears in them.
    expect(incidents.totalCount).toBe(b.alertIds.length);
    const alertIds = incidents.nodes.flatMap((i) => i.alerts.nodes.map((a) => a.id));
    expect(alertIds.sort()).toEqual([...b.alertIds].sort());
  });

  it("lets tenant B remove none of tenant A's resources", async () => {
    const adminB = await platform.token([Role.ADMIN], "tenant-b");
    const removed = ok(
      await platform.request(RemoveResourcesDocument, { ids: a.resourceIds }, adminB),
    ).removeResources;
    expect(removed.removedCount).toBe(0);
    const readerA = await platform.token([Role.READER], "tenant-a");
    expect(ok(await platform.request(ResourcesDocument, { first: 1 }, readerA)).resources.totalCount).toBe(
      12,
    );
  });

  it("resolves no tenant-A entity when `_entities` is sent straight to a subgraph with B's internal token", async () => {
    const tokenB = await platform.internalToken([Role.READER], "tenant-b");
    const representations = [
      ...a.resourceIds.map((id) => ({ __typename: "Resource", id })),
      { __typename: "CloudAccount", id: a.accountIds.azure },
    ];
    const res = await postGraphql<{ _entities: unknown[] }>(
      platform.subgraphs.posture.url,
      { query: ENTITIES, variables: { representations } },
      { [IDENTITY_HEADER]: tokenB },
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!._entities).toEqual(representations.map(() => null));

    const siem = await postGraphql<{
      _entities: Array<{ id?: string; alerts?: { totalCount: number } } | null>;
    }>(
      platform.subgraphs.siem.url,
      {
        query: SIEM_ENTITIES,
        variables: {
          representations: [
            ...a.alertIds.map((id) => ({ __typename: "SecurityAlert", id })),
            { __typename: "Resource", id: a.vmIds[0] },
          ],
        },
      },
      { [IDENTITY_HEADER]: tokenB },
    );
    expect(siem.data!._entities.slice(0, a.alertIds.length)).toEqual(a.alertIds.map(() => null));
    expect(siem.data!._entities[a.alertIds.length]).toEqual({ alerts: { totalCount: 0 } });

    // The same request with A's token does resolve them: the test above is not vacuous.
    const tokenA = await platform.internalToken([Role.READER], "tenant-a");
    const asA = await postGraphql<{ _entities: Array<{ id: string } | null> }>(
      platform.subgraphs.posture.url,
      { query: ENTITIES, variables: { representations } },
      { [IDENTITY_HEADER]: tokenA },
    );
    expect(asA.data!._entities.every((e) => e !== null)).toBe(true);
  });

  it("marks every subgraph answer as not to be stored by a cache on the way", async () => {
    const token = await platform.internalToken([Role.READER], "tenant-a");
    for (const subgraph of [
      platform.subgraphs.posture,
      platform.subgraphs.protection,
      platform.subgraphs.siem,
    ]) {
      const res = await fetch(subgraph.url, {
        method: "POST",
        headers: { "content-type": "application/json", [IDENTITY_HEADER]: token },
        body: JSON.stringify({ query: "{ __typename }" }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
    }
  });

  it("refuses subgraph requests with no, forged or expired internal tokens", async () => {
    const body = {
      query: ENTITIES,
      variables: { representations: [{ __typename: "Resource", id: a.resourceIds[0] }] },
    };
    const forged = await new SignJWT({ tid: "tenant-a", roles: ["ADMIN"] })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("mallory")
      .setIssuer("rampart-gateway")
      .setAudience("rampart-subgraphs")
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode("not-the-gateway-secret-but-long-enough-1234"));
    const expired = await new SignJWT({ tid: "tenant-a", roles: ["ADMIN"] })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("old")
      .setIssuer("rampart-gateway")
      .setAudience("rampart-subgraphs")
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(new TextEncoder().encode(platform.config.internalTokenSecret));
    for (const url of Object.values(platform.subgraphs).map((s) => s.url)) {
      for (const headers of [
        {},
        { [IDENTITY_HEADER]: forged },
        { [IDENTITY_HEADER]: expired },
        { [IDENTITY_HEADER]: "garbage" },
      ]) {
        const res = await postGraphql(url, body, headers);
        expect(res.status).toBe(401);
        expect(res.errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
      }
    }
  });

  it("holds in the database itself: row-level security binds each subgraph's role even without a WHERE clause", async () => {
    const url = roleUrl(
      platform.db.url,
      roleName(platform.config.db.rolePrefix, "posture"),
      platform.config.db.rolePasswords.posture,
    );
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      const count = async () =>
        (await client.query("SELECT count(*)::int AS n FROM posture.resources")).rows[0].n;
      expect(await count()).toBe(0); // no tenant set: nothing visible
      await client.query("BEGIN");
      await client.query("SELECT set_config('rampart.tenant_id', 'tenant-b', true)");
      expect(await count()).toBe(9);
      await expect(
        client.query(
          `INSERT INTO posture.cloud_accounts (id, tenant_id, provider, external_id, name) VALUES (gen_random_uuid(), 'tenant-a', 'AWS', 'x', 'x')`,
        ),
      ).rejects.toThrow(/row-level security/);
      await client.query("ROLLBACK");
      // A subgraph's role has no privileges on the other subgraphs' schemas.
      await expect(client.query("SELECT * FROM siem.alerts")).rejects.toThrow(/permission denied/);
      await expect(client.query("SELECT * FROM protection.plans")).rejects.toThrow(/permission denied/);
    } finally {
      await client.end();
    }
  });
});
