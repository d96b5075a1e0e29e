import { Role } from "../subgraphs/common/src";
import { postGraphql, startTestPlatform, type TestPlatform } from "./utils/platform";

/**
 * A subgraph that is down: the fields it was to resolve are null with an UNAVAILABLE error naming it (not a masked
 * internal error), the rest of the operation is answered, and the same operation is served once it is back.
 */
describe("gateway with a subgraph down", () => {
  let platform: TestPlatform;
  let analyst: string;
  const ask = (query: string, variables: Record<string, unknown> = {}) =>
    postGraphql<Record<string, unknown>>(
      platform.gateway.url,
      { query, variables },
      { authorization: `Bearer ${analyst}` },
    );

  beforeAll(async () => {
    platform = await startTestPlatform();
    analyst = await platform.token([Role.ANALYST]);
  });
  afterAll(async () => {
    await platform?.stop();
  });

  it("answers the reachable subgraphs, UNAVAILABLE for the one that is down, and serves it again when it is back", async () => {
    const mixed = `{ resources(first: 1) { totalCount } incident(id: "01890000-0000-7000-8000-000000000000") { id } }`;
    expect(await ask(mixed)).toEqual({ status: 200, data: { resources: { totalCount: 0 }, incident: null } });

    await platform.subgraphs.siem.close();
    const down = await ask(mixed);
    expect(down.data).toEqual({ resources: { totalCount: 0 }, incident: null });
    expect(down.errors).toEqual([
      {
        message: "The siem service cannot be reached: nothing was done there. Retry later.",
        extensions: { code: "UNAVAILABLE", reason: "SUBGRAPH_UNREACHABLE", serviceName: "siem" },
      },
    ]);
    const write = await ask(
      `mutation ($input: CreateIncidentInput!) { createIncident(input: $input) { id } }`,
      { input: { title: "while the SIEM is down", description: "", severity: "LOW", alertIds: [] } },
    );
    expect(write.errors?.map((e) => [e.extensions?.code, e.extensions?.reason])).toEqual([
      ["UNAVAILABLE", "SUBGRAPH_UNREACHABLE"],
    ]);

    await platform.restartSubgraph("siem");
    expect(await ask(mixed)).toEqual({ status: 200, data: { resources: { totalCount: 0 }, incident: null } });
    const incidents = await ask(`{ incidents(first: 5) { totalCount } }`);
    expect(incidents).toEqual({ status: 200, data: { incidents: { totalCount: 0 } } });
  });
});
