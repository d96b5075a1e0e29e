import { spawn, type ChildProcess } from "node:child_process";
import { freePort } from "../scripts/lib/database";
import { createTestDatabase, type TestDatabase } from "./utils/database";
import { postGraphql } from "./utils/platform";

const CROSS_DOMAIN = `query CrossDomain { resources(first: 5) { totalCount nodes { id name type account { name } coverage { covered } alerts(first: 1) { totalCount } } } }`;

/** Resolves with everything printed so far once `pattern` appears in the child's stdout. */
function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(
      () => reject(new Error(`timed out waiting for ${pattern}; output:\n${out.slice(-3000)}`)),
      timeoutMs,
    );
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (pattern.test(out)) {
        clearTimeout(timer);
        resolve(out);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}; output:\n${out.slice(-3000)}`));
    });
  });
}

describe("npm start", () => {
  let db: TestDatabase;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
    await db?.drop();
  });

  it("starts the platform, seeds the demo tenant, prints tokens, answers CrossDomain and stops on SIGINT", async () => {
    const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    child = spawn(process.execPath, ["dist/scripts/start.js"], {
      env: {
        ...process.env,
        DATABASE_URL: db.url,
        DB_ROLE_PREFIX: db.rolePrefix,
        GATEWAY_PORT: String(ports[0]),
        POSTURE_PORT: String(ports[1]),
        PROTECTION_PORT: String(ports[2]),
        SIEM_PORT: String(ports[3]),
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const out = await waitForOutput(child, /Ctrl-C stops everything/, 90_000);
    const url = /GraphQL endpoint: (\S+)/.exec(out)![1];
    expect(url).toBe(`http://127.0.0.1:${ports[0]}/graphql`);
    // The explorer's link, signed in as the demo ANALYST, serves the page.
    const explorer = /(http:\S+\/explorer)#token=(eyJ\S+)/.exec(out)!;
    expect(explorer[1]).toBe(`http://127.0.0.1:${ports[0]}/explorer`);
    const page = await fetch(explorer[1]);
    expect([page.status, (await page.text()).includes("graphiql.min.js")]).toEqual([200, true]);
    const reader = /READER\s+(\S+)/.exec(out)![1];
    for (const role of ["ANALYST", "RESPONDER", "ADMIN", "INGESTOR"])
      expect(out).toMatch(new RegExp(`${role}\\s+eyJ`));

    const res = await postGraphql<{
      resources: { totalCount: number; nodes: Array<{ account: { name: string } }> };
    }>(url, { query: CROSS_DOMAIN }, { authorization: `Bearer ${reader}` });
    expect(res.errors).toBeUndefined();
    expect(res.data!.resources.totalCount).toBeGreaterThanOrEqual(200);
    expect(res.data!.resources.nodes).toHaveLength(5);

    // The demo estate gives a meaningful posture picture.
    const demo = await postGraphql<{
      secureScore: {
        percentage: number;
        controls: Array<{ max: number; unhealthy: number; control: { id: string } }>;
      };
      networkMap: { nodes: Array<{ kind: string; internetExposed: boolean }> };
      recommendations: { totalCount: number };
      incidents: { totalCount: number };
      alerts: { nodes: Array<{ provider: string }> };
      resources: { nodes: Array<{ name: string; vulnerabilitySummary: { total: number } }> };
    }>(
      url,
      {
        query: `{ secureScore { percentage controls { max unhealthy control { id } } }
                  networkMap(minSeverity: LOW) { nodes { kind internetExposed } }
                  recommendations(first: 1) { totalCount }
                  incidents(first: 1) { totalCount }
                  alerts(first: 100) { nodes { provider } }
                  resources(filter: { search: "vm-web-prod-01" }) { nodes { name vulnerabilitySummary { total } } } }`,
      },
      { authorization: `Bearer ${reader}` },
    );
    expect(demo.errors).toBeUndefined();
    const { secureScore, networkMap, recommendations, incidents, alerts, resources } = demo.data!;
    // The SIEM ran its rules and threat intelligence over the sample logs; a covered VM has findings.
    expect(incidents.totalCount).toBeGreaterThan(5);
    for (const provider of ["ANALYTICS_RULE", "TI_MATCH", "EXTERNAL"])
      expect(alerts.nodes.some((a) => a.provider === provider)).toBe(true);
    // The demo machines' telemetry raised workload detections; the relay delivers them to the SIEM.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const workload = await postGraphql<{ alerts: { nodes: Array<{ provider: string; title: string }> } }>(
        url,
        { query: `{ alerts(first: 100) { nodes { provider title } } }` },
        { authorization: `Bearer ${reader}` },
      );
      if (workload.data!.alerts.nodes.some((a) => a.provider === "WORKLOAD_PROTECTION")) break;
      if (Date.now() > deadline) throw new Error("no workload-protection alert reached the SIEM");
      await new Promise((r) => setTimeout(r, 250));
    }
    // The demo's automation rule flagged the high-severity incidents the logs raised.
    for (;;) {
      const flagged = await postGraphql<{ incidents: { totalCount: number } }>(
        url,
        { query: `{ incidents(filter: { labels: ["needs-triage"], severities: [HIGH] }) { totalCount } }` },
        { authorization: `Bearer ${reader}` },
      );
      if (flagged.data!.incidents.totalCount > 0) break;
      if (Date.now() > deadline) throw new Error("the demo automation rule flagged no incident");
      await new Promise((r) => setTimeout(r, 250));
    }
    const jump = await postGraphql<{
      resources: { nodes: Array<{ jitPolicy: { ports: Array<{ number: number; state: string }> } | null }> };
    }>(
      url,
      {
        query: `{ resources(filter: { search: "vm-jump-01" }) { nodes { jitPolicy { ports { number state } } } } }`,
      },
      { authorization: `Bearer ${reader}` },
    );
    const groups = await postGraphql<{ appControlGroups: { totalCount: number } }>(
      url,
      { query: `{ appControlGroups(first: 1) { totalCount } }` },
      { authorization: `Bearer ${reader}` },
    );
    expect(groups.data!.appControlGroups.totalCount).toBeGreaterThan(0);
    expect(jump.data!.resources.nodes[0].jitPolicy!.ports).toEqual([
      { number: 22, state: "LOCKED" },
      { number: 3389, state: "LOCKED" },
    ]);
    expect(
      resources.nodes.find((r) => r.name === "vm-web-prod-01")!.vulnerabilitySummary.total,
    ).toBeGreaterThan(0);
    expect(secureScore.percentage).toBeGreaterThanOrEqual(0.4);
    expect(secureScore.percentage).toBeLessThanOrEqual(0.7);
    for (const control of secureScore.controls.filter((c) => c.max > 0)) {
      expect({ control: control.control.id, hasRecommendations: control.unhealthy > 0 }).toEqual({
        control: control.control.id,
        hasRecommendations: true,
      });
    }
    expect(
      networkMap.nodes.filter((n) => n.kind === "VIRTUAL_MACHINE" && n.internetExposed).length,
    ).toBeGreaterThanOrEqual(3);
    expect(recommendations.totalCount).toBeGreaterThan(50);

    const exited = new Promise<number | null>((resolve) => child!.on("exit", (code) => resolve(code)));
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    await expect(fetch(url.replace(/graphql$/, "health"))).rejects.toThrow();
  });
});
