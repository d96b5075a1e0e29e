import { print } from "graphql";
import {
  JitRequestDocument,
  RequestJitAccessDocument,
  SetJitPolicyDocument,
  type RequestJitAccessMutation,
  type RequestJitAccessMutationVariables,
} from "./__generated__/graphql";
import { startGateway, type Gateway } from "../gateway/src/server";
import { createLogger, IDENTITY_HEADER, Role } from "../subgraphs/common/src";
import { postGraphql, startTestPlatform, type GqlResponse, type TestPlatform } from "./utils/platform";
import { ok, seedTenant } from "./utils/seed";

/**
 * JIT "my IP" through real HTTP: a request without `sourceIp` admits the address the gateway received it
 * from. The test clients all connect from 127.0.0.1, so the gateway of the platform (no trusted proxies, the
 * default) sees 127.0.0.1; a second gateway trusts 127.0.0.1 as its proxy and so believes the address it
 * forwards; a third listens dual-stack, where the socket reports the client as ::ffff:127.0.0.1.
 */
describe("JIT access from the caller's own address", () => {
  let platform: TestPlatform;
  let behindProxy: Gateway;
  let dualStack: Gateway;
  let vm: string;
  let alice: string;

  const input = (ports: number[]): RequestJitAccessMutationVariables["input"] => ({
    resourceId: vm,
    ports,
    duration: "PT1H",
    justification: "rotate host keys",
  });
  /** `requestJitAccess` without a source, through the gateway at `url`, with extra request headers. */
  const askFromHere = (
    url: string,
    ports: number[],
    headers: Record<string, string> = {},
  ): Promise<GqlResponse<RequestJitAccessMutation>> =>
    postGraphql(
      url,
      { query: print(RequestJitAccessDocument), variables: { input: input(ports) } },
      { authorization: `Bearer ${alice}`, ...headers },
    );
  const codes = (res: GqlResponse<unknown>) => res.errors?.map((e) => e.extensions?.code);
  const requestCount = async () => {
    const ds = await platform.connect("protection");
    try {
      const [{ n }] = (await ds.query(`SELECT count(*)::int AS n FROM jit_requests`)) as Array<{ n: number }>;
      return n;
    } finally {
      await ds.destroy();
    }
  };

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    vm = (await seedTenant(platform, "tenant-a", 3)).vmIds[0];
    alice = await platform.token([Role.RESPONDER], "tenant-a", "alice@example.com");
    const admin = await platform.token([Role.ADMIN], "tenant-a");
    ok(
      await platform.request(
        SetJitPolicyDocument,
        {
          input: {
            resourceId: vm,
            ports: [
              // SSH from the loopback network (the test's own address) and the operators' network.
              { number: 22, protocol: "TCP", allowedSourcePrefixes: ["127.0.0.0/8", "203.0.113.0/24"] },
              // RDP from the operators' network only.
              { number: 3389, protocol: "TCP", allowedSourcePrefixes: ["203.0.113.0/24"] },
            ],
          },
        },
        admin,
      ),
    );
    const log = createLogger("test", "silent");
    const subgraphUrls = {
      posture: platform.subgraphs.posture.url,
      protection: platform.subgraphs.protection.url,
      siem: platform.subgraphs.siem.url,
    };
    behindProxy = await startGateway({ ...platform.config, trustedProxies: ["127.0.0.1"] }, log, {
      port: 0,
      subgraphUrls,
    });
    dualStack = await startGateway({ ...platform.config, host: "::" }, log, { port: 0, subgraphUrls });
  });
  afterAll(async () => {
    await behindProxy?.close();
    await dualStack?.close();
    await platform?.stop();
  });

  it("records the caller's address as the source when sourceIp is omitted", async () => {
    const asked = ok(await askFromHere(platform.gateway.url, [22])).requestJitAccess;
    expect(asked).toMatchObject({ sourceIp: "127.0.0.1", ports: [22], status: "PENDING" });
    const stored = ok(await platform.request(JitRequestDocument, { id: asked.id }, alice)).jitRequest!;
    expect(stored.sourceIp).toBe("127.0.0.1");
    expect(stored.history).toEqual([
      expect.objectContaining({
        action: "REQUEST_CREATED",
        details: expect.objectContaining({ sourceIp: "127.0.0.1", sourceIpFrom: "CALLER" }),
      }),
    ]);
  });

  it("holds the caller's address to the policy's allowed sources, like a typed one", async () => {
    const before = await requestCount();
    const res = await askFromHere(platform.gateway.url, [22, 3389]);
    expect(codes(res)).toEqual(["BAD_USER_INPUT"]);
    expect(res.errors?.[0].extensions?.problems).toEqual([
      {
        field: "sourceIp",
        message:
          "your address 127.0.0.1 (sourceIp omitted: the address the gateway received the request from) is outside the sources allowed on port 3389 (203.0.113.0/24)",
      },
    ]);
    expect(await requestCount()).toBe(before);
  });

  it("ignores an X-Forwarded-For header from a client that is not a trusted proxy", async () => {
    const before = await requestCount();
    // Were the header believed, 203.0.113.50 would be admitted on 3389.
    const spoofed = await askFromHere(platform.gateway.url, [3389], { "x-forwarded-for": "203.0.113.50" });
    expect(codes(spoofed)).toEqual(["BAD_USER_INPUT"]);
    expect(await requestCount()).toBe(before);
    const asked = ok(await askFromHere(platform.gateway.url, [22], { "x-forwarded-for": "203.0.113.50" }));
    expect(asked.requestJitAccess.sourceIp).toBe("127.0.0.1");
  });

  it("uses the address a trusted proxy forwards, not the copy the client sent it", async () => {
    // The client sent `X-Forwarded-For: 198.51.100.66`; the proxy (127.0.0.1) appended the client's address.
    const asked = ok(
      await askFromHere(behindProxy.url, [22, 3389], { "x-forwarded-for": "198.51.100.66, 203.0.113.50" }),
    ).requestJitAccess;
    expect(asked).toMatchObject({ sourceIp: "203.0.113.50", ports: [22, 3389] });
    // A request from the proxy itself, forwarding nothing, is the proxy's.
    expect(ok(await askFromHere(behindProxy.url, [22])).requestJitAccess.sourceIp).toBe("127.0.0.1");
  });

  it("records an IPv4 client of a dual-stack gateway by its IPv4 address", async () => {
    const asked = ok(await askFromHere(`http://127.0.0.1:${dualStack.port}/graphql`, [22])).requestJitAccess;
    expect(asked.sourceIp).toBe("127.0.0.1");
  });

  it("is refused on a subgraph without an address in the identity token, whatever headers say", async () => {
    const before = await requestCount();
    const res = await postGraphql<RequestJitAccessMutation>(
      platform.subgraphs.protection.url,
      { query: print(RequestJitAccessDocument), variables: { input: input([22]) } },
      {
        [IDENTITY_HEADER]: await platform.internalToken([Role.RESPONDER], "tenant-a"),
        "x-forwarded-for": "127.0.0.1",
        "x-real-ip": "127.0.0.1",
      },
    );
    expect(codes(res)).toEqual(["BAD_USER_INPUT"]);
    expect(res.errors?.[0].extensions?.problems).toEqual([
      {
        field: "sourceIp",
        message: "is required here: the gateway passed no address of yours to use in its place",
      },
    ]);
    expect(await requestCount()).toBe(before);
  });
});
