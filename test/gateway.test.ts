import { CrossDomainDocument, SetPlanDocument } from "./__generated__/graphql";
import { signDevToken } from "../gateway/src/auth";
import { MAX_ROOT_FIELDS } from "../gateway/src/limits";
import { Role } from "../subgraphs/common/src";
import { postGraphql, startTestPlatform, type TestPlatform } from "./utils/platform";

describe("gateway", () => {
  let platform: TestPlatform;
  const base = () => platform.gateway.url.replace(/\/graphql$/, "");

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
  });
  afterAll(() => platform?.stop());

  it("serves /health and /ready without a token", async () => {
    expect((await fetch(`${base()}/health`)).status).toBe(200);
    const ready = await fetch(`${base()}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: "ready",
      subgraphs: { posture: true, protection: true, siem: true },
    });
    for (const s of Object.values(platform.subgraphs))
      expect((await fetch(s.url.replace(/graphql$/, "health"))).status).toBe(200);
  });

  it("answers 401 UNAUTHENTICATED without a valid bearer token", async () => {
    const body = { query: "{ resources { totalCount } }" };
    const otherKey = await signDevToken("a-different-secret-that-is-long-enough-000", {
      subject: "x",
      tenantId: "t",
      roles: [Role.ADMIN],
    });
    for (const headers of [
      {},
      { authorization: "Bearer nonsense" },
      { authorization: `Bearer ${otherKey}` },
      { authorization: "Basic abc" },
    ]) {
      const res = await postGraphql(platform.gateway.url, body, headers);
      expect(res.status).toBe(401);
      expect(res.errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
    }
    const expired = await signDevToken(platform.config.jwt.secret!, {
      subject: "x",
      tenantId: "t",
      roles: [Role.READER],
      ttlSeconds: -10,
    });
    expect(
      (await postGraphql(platform.gateway.url, body, { authorization: `Bearer ${expired}` })).status,
    ).toBe(401);
  });

  it("rejects over-deep and over-aliased operations with OPERATION_LIMIT", async () => {
    const token = await platform.token([Role.READER]);
    let deep = "id";
    for (let i = 0; i < 8; i++) deep = `nodes { account { resources(first: 1) { ${deep} } } }`;
    const tooDeep = await postGraphql(
      platform.gateway.url,
      { query: `{ resources(first: 1) { ${deep} } }` },
      { authorization: `Bearer ${token}` },
    );
    expect(tooDeep.errors?.[0].extensions?.code).toBe("OPERATION_LIMIT");
    const aliases = Array.from({ length: 40 }, (_, i) => `a${i}: planTypes { planType }`).join(" ");
    const tooMany = await postGraphql(
      platform.gateway.url,
      { query: `{ ${aliases} }` },
      { authorization: `Bearer ${token}` },
    );
    expect(tooMany.errors?.[0].extensions?.code).toBe("OPERATION_LIMIT");
    // Within the aliases limit, over the root fields one: each root field is a fetch of its own.
    const roots = Array.from({ length: MAX_ROOT_FIELDS + 1 }, (_, i) => `r${i}: planTypes { planType }`);
    const tooWide = await postGraphql(
      platform.gateway.url,
      { query: `{ ${roots.join(" ")} }` },
      { authorization: `Bearer ${token}` },
    );
    expect(tooWide.errors?.[0]).toMatchObject({
      message: `Root field limit of ${MAX_ROOT_FIELDS} exceeded, found ${MAX_ROOT_FIELDS + 1}.`,
      extensions: { code: "OPERATION_LIMIT" },
    });
    const wide = await postGraphql(
      platform.gateway.url,
      { query: `{ ${roots.slice(1).join(" ")} }` },
      { authorization: `Bearer ${token}` },
    );
    expect(wide.errors).toBeUndefined();
  });

  it("authorises in the subgraph: a READER cannot change a plan", async () => {
    const res = await platform.request(
      SetPlanDocument,
      { input: { accountId: "0190d9a0-0000-7000-8000-000000000001", planType: "SERVERS", tier: "STANDARD" } },
      await platform.token([Role.READER]),
    );
    expect(res.errors?.[0].extensions?.code).toBe("FORBIDDEN");
  });

  it("answers an empty tenant with empty lists, not errors", async () => {
    const res = await platform.request(
      CrossDomainDocument,
      {},
      await platform.token([Role.READER], "empty-tenant"),
    );
    expect(res.errors).toBeUndefined();
    expect(res.data?.resources).toEqual({ totalCount: 0, nodes: [] });
  });
});
