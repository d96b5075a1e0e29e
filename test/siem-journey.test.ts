import { readFileSync } from "node:fs";
import type { DataSource } from "typeorm";
import {
  CloseIncidentDocument,
  CreateAnalyticsRuleDocument,
  DataConnectorsDocument,
  EntityPageDocument,
  IncidentGraphDocument,
  ImportStixBundleDocument,
  IncidentDetailDocument,
  IncidentQueueDocument,
  IngestEventsDocument,
  SiemAlertsDocument,
  UpdateIncidentDocument,
} from "./__generated__/graphql";
import { inTenant, Role } from "../subgraphs/common/src";
import { runScheduledRule } from "../subgraphs/siem/src/modules/rules/rule-runner";
import { storedRuleFromRow } from "../subgraphs/siem/src/modules/rules/rules.service";
import { postGraphql, startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok, seedPaymentsKeyVault } from "./utils/seed";

const KINDS = [
  "ENTRA_SIGNIN",
  "AZURE_ACTIVITY",
  "AWS_CLOUDTRAIL",
  "SYSLOG_CEF",
  "M365_AUDIT",
  "OCSF",
] as const;
const fixture = (kind: string) => readFileSync(`test/fixtures/siem/${kind}.ndjson`, "utf8");

const bundle = {
  type: "bundle",
  id: "bundle--6f1c1c0e-2b0c-4d0a-9a3e-7c1f3b0e9a01",
  objects: [
    {
      type: "identity",
      spec_version: "2.1",
      id: "identity--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061",
      created: "2026-11-01T00:00:00.000Z",
      modified: "2026-11-01T00:00:00.000Z",
      name: "Contoso CTI",
      identity_class: "organization",
    },
    ...[
      ["8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "[ipv4-addr:value = '198.51.100.23']", "Payload server", 85],
      [
        "1f2d4a9c-5b6e-4c7d-8e9f-0a1b2c3d4e5f",
        "[domain-name:value = 'malicious-updates.example']",
        "Fake update domain",
        70,
      ],
    ].map(([uuid, pattern, name, confidence]) => ({
      type: "indicator",
      spec_version: "2.1",
      id: `indicator--${uuid}`,
      created: "2026-11-01T00:00:00.000Z",
      modified: "2026-11-01T00:00:00.000Z",
      name,
      pattern,
      pattern_type: "stix",
      valid_from: "2026-11-01T00:00:00Z",
      confidence,
    })),
  ],
};

/** Journey 4 of product.md without subscriptions and automation, through the gateway. */
describe("journey 4: logs → rules → alerts → incidents → triage", () => {
  let platform: TestPlatform;
  let admin: string;
  let analyst: string;
  let ingestor: string;
  let ds: DataSource;
  const tenant = "tenant-a";

  const ingest = (kind: string, body: string, token = ingestor) =>
    fetch(`${platform.gateway.url.replace(/\/graphql$/, "")}/ingest/events?connector=${kind}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/x-ndjson" },
      body,
    });
  const alerts = async () => ok(await platform.request(SiemAlertsDocument, { first: 100 }, analyst)).alerts;

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    admin = await platform.token([Role.ADMIN], tenant);
    analyst = await platform.token([Role.ANALYST], tenant, "alice@contoso.example");
    ingestor = await platform.token([Role.INGESTOR], tenant);
    ds = await platform.connect("siem");
  });
  afterAll(async () => {
    await ds?.destroy();
    await platform?.stop();
  });

  it("sets up rules from templates and imports threat intelligence", async () => {
    for (const templateId of [
      "brute-force-sign-ins-by-ip",
      "internet-rdp-ssh-allowed",
      "root-account-use",
      "logging-disabled",
    ]) {
      const rule = ok(
        await platform.request(CreateAnalyticsRuleDocument, { templateId }, admin),
      ).createAnalyticsRule;
      expect(rule.enabled).toBe(true);
    }
    const imported = ok(await platform.request(ImportStixBundleDocument, { bundle }, admin)).importStixBundle;
    expect(imported).toMatchObject({ createdCount: 2, skippedCount: 1, problems: [] });
  });

  it("ingests every connector's logs; NRT rules and TI matching raise alerts on the way in", async () => {
    // The inventory knows the key vault whose diagnostic setting the attacker deletes.
    await seedPaymentsKeyVault(platform, admin);
    for (const kind of KINDS) {
      const res = await ingest(kind, fixture(kind));
      expect(res.status).toBe(200);
      const result = (await res.json()) as { accepted: number; duplicates: number; rejected: unknown[] };
      expect({ kind, rejected: result.rejected }).toEqual({ kind, rejected: [] });
      expect(result.accepted).toBe(fixture(kind).trim().split("\n").length);
    }
    const connectors = ok(await platform.request(DataConnectorsDocument, {}, analyst)).dataConnectors;
    const sent = connectors.filter((c) => (KINDS as readonly string[]).includes(c.kind));
    expect(sent).toHaveLength(KINDS.length);
    expect(sent.every((c) => c.status === "CONNECTED" && c.eventsTotal > 0)).toBe(true);
    // The connectors this journey sends nothing to are listed too, never connected.
    expect(connectors.filter((c) => !sent.includes(c)).every((c) => c.status === "NEVER_CONNECTED")).toBe(
      true,
    );
    const { nodes } = await alerts();
    const titles = nodes.map((a) => `${a.provider}:${a.title}`);
    expect(titles.some((t) => t.startsWith("TI_MATCH:") && t.includes("198.51.100.23"))).toBe(true);
    expect(titles.some((t) => t.startsWith("TI_MATCH:") && t.includes("malicious-updates.example"))).toBe(
      true,
    );
    expect(nodes.filter((a) => a.provider === "ANALYTICS_RULE").length).toBeGreaterThanOrEqual(3);
    for (const a of nodes) expect(a.evidenceEventIds.length).toBeGreaterThan(0);
    // Each alert's evidence reads back as the stored events themselves, oldest first.
    for (const a of nodes) {
      expect({ alert: a.title, ids: a.evidenceEvents.map((e) => e.id).sort() }).toEqual({
        alert: a.title,
        ids: [...new Set(a.evidenceEventIds)].sort(),
      });
      const times = a.evidenceEvents.map((e) => Date.parse(e.time as string));
      expect(times).toEqual([...times].sort((x, y) => x - y));
      expect(a.evidenceEvents.every((e) => (KINDS as readonly string[]).includes(e.connector))).toBe(true);
    }
    // An alert naming a child ARM id (the vault's diagnostic setting) resolves to the vault in posture.
    expect(nodes.some((a) => a.resource?.name === "kv-payments-prod")).toBe(true);
  });

  it("keeps every record as received: each event's `raw` is its line of the file", async () => {
    for (const kind of KINDS) {
      const lines = fixture(kind).trim().split("\n");
      const res = await postGraphql<{ events: { totalCount: number; nodes: Array<{ raw: unknown }> } }>(
        platform.gateway.url,
        {
          query: `query Raw($filter: EventFilter) { events(filter: $filter, first: 100) { totalCount nodes { raw } } }`,
          variables: {
            filter: { connector: kind, from: "2000-01-01T00:00:00Z", to: new Date(Date.now() + 86_400_000) },
          },
        },
        { authorization: `Bearer ${analyst}` },
      );
      expect(res.errors).toBeUndefined();
      expect(res.data!.events.totalCount).toBe(lines.length);
      const stored = res.data!.events.nodes.map((n) => JSON.stringify(n.raw)).sort();
      // A syslog line's record is the line itself (a JSON string); the others are objects.
      expect(stored).toEqual(lines.map((l) => JSON.stringify(JSON.parse(l))).sort());
    }
  });

  it("finds an entity's events by account, host, either address and resource, whatever the case", async () => {
    const window = { from: "2000-01-01T00:00:00Z", to: new Date(Date.now() + 86_400_000).toISOString() };
    // The busiest value of each entity column, and how many events name it (compared without case).
    const busiest = (column: string) =>
      inTenant(ds, tenant, async (m) => {
        const [row] = (await m.query(
          `SELECT ${column}::text AS value, count(*)::int AS n FROM events WHERE ${column} IS NOT NULL
           GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1`,
        )) as Array<{ value: string; n: number }>;
        return row;
      });
    const count = (where: string, value: string) =>
      inTenant(ds, tenant, async (m) => {
        const [row] = (await m.query(`SELECT count(*)::int AS n FROM events WHERE ${where}`, [
          value,
        ])) as Array<{
          n: number;
        }>;
        return row.n;
      });
    // Mixed case: the lookups ignore it.
    const shout = (v: string) => v.replace(/[a-z]/g, (c, i: number) => (i % 2 ? c.toUpperCase() : c));
    const account = await busiest("lower(actor_user)");
    const host = await busiest("lower(device)");
    const resource = await busiest("lower(resource_id)");
    const destination = await busiest("host(dst_ip)");
    const cases = [
      ["ACCOUNT", shout(account.value), await count("lower(actor_user) = $1", account.value)],
      ["HOST", shout(host.value), await count("lower(device) = $1", host.value)],
      ["RESOURCE", shout(resource.value), await count("lower(resource_id) = $1", resource.value)],
      ["IP", destination.value, await count("src_ip = $1::inet OR dst_ip = $1::inet", destination.value)],
    ] as const;
    for (const [type, value, expected] of cases) {
      expect(expected).toBeGreaterThan(0);
      const page = ok(await platform.request(EntityPageDocument, { type, value, ...window }, analyst)).entity;
      expect({ type, found: page.timeline.totalCount }).toEqual({ type, found: expected });
      expect(page.timeline.nodes).toHaveLength(Math.min(expected, 100));
    }
    // The events query's filters take the same lookups, together.
    const filtered = async (filter: Record<string, string>) => {
      const res = await postGraphql<{ events: { totalCount: number } }>(
        platform.gateway.url,
        {
          query: `query Find($filter: EventFilter) { events(filter: $filter, first: 1) { totalCount } }`,
          variables: { filter: { ...window, ...filter } },
        },
        { authorization: `Bearer ${analyst}` },
      );
      expect(res.errors).toBeUndefined();
      return res.data!.events.totalCount;
    };
    expect(await filtered({ actorUser: shout(account.value) })).toBe(cases[0][2]);
    expect(await filtered({ device: shout(host.value) })).toBe(cases[1][2]);
    expect(await filtered({ ip: destination.value })).toBe(cases[3][2]);
    // Host and account together: the events naming both.
    const pair = await inTenant(ds, tenant, async (m) => {
      const [row] = (await m.query(
        `SELECT lower(device) AS host, lower(actor_user) AS account, count(*)::int AS n FROM events
         WHERE device IS NOT NULL AND actor_user IS NOT NULL GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 1`,
      )) as Array<{ host: string; account: string; n: number }>;
      return row;
    });
    expect(await filtered({ device: pair.host.toUpperCase(), actorUser: shout(pair.account) })).toBe(pair.n);
    const invalid = await postGraphql(
      platform.gateway.url,
      { query: `{ events(filter: { ip: "999.1.1.1" }, first: 1) { totalCount } }` },
      { authorization: `Bearer ${analyst}` },
    );
    expect(invalid.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect(invalid.errors?.[0].extensions?.problems).toEqual([
      { field: "filter.ip", message: "not an IP address" },
    ]);
    const backwards = await postGraphql(
      platform.gateway.url,
      {
        query: `{ events(filter: { from: "2026-01-02T00:00:00Z", to: "2026-01-01T00:00:00Z" }, first: 1) { totalCount } }`,
      },
      { authorization: `Bearer ${analyst}` },
    );
    expect(backwards.errors?.[0].extensions?.problems).toEqual([
      { field: "filter.from", message: "must be before `filter.to`" },
    ]);
  });

  it("runs the scheduled brute-force rule over its period and groups its alert into an incident", async () => {
    const before = (await alerts()).totalCount;
    await inTenant(ds, tenant, async (m) => {
      const [row] = await m.query(
        `SELECT * FROM analytics_rules WHERE template_id = 'brute-force-sign-ins-by-ip'`,
      );
      const result = await runScheduledRule(
        m,
        tenant,
        storedRuleFromRow(row),
        new Date("2026-11-20T09:06:00Z"),
      );
      expect(result).toMatchObject({ alerts: 1, results: 1 });
    });
    const { nodes, totalCount } = await alerts();
    expect(totalCount).toBe(before + 1);
    const brute = nodes.find((a) => a.title.startsWith("Brute-force sign-ins from one IP address"))!;
    expect(brute.entities).toEqual([{ type: "IP", value: "203.0.113.77" }]);
    expect(brute.techniques).toContain("T1110");
    // Running the same window again is idempotent.
    await inTenant(ds, tenant, async (m) => {
      const [row] = await m.query(
        `SELECT * FROM analytics_rules WHERE template_id = 'brute-force-sign-ins-by-ip'`,
      );
      expect(
        (await runScheduledRule(m, tenant, storedRuleFromRow(row), new Date("2026-11-20T09:06:00Z"))).alerts,
      ).toBe(0);
    });
  });

  it("triages an incident with its etag (a stale one is CONFLICT) and closes it with a classification", async () => {
    const incidents = ok(await platform.request(IncidentQueueDocument, { first: 100 }, analyst)).incidents;
    expect(incidents.totalCount).toBeGreaterThan(0);
    const brute = incidents.nodes.find((i) => i.title.startsWith("Brute-force"))!;
    const detail = ok(await platform.request(IncidentDetailDocument, { id: brute.id }, analyst)).incident!;
    expect(detail.alerts.totalCount).toBe(1);
    const assigned = ok(
      await platform.request(
        UpdateIncidentDocument,
        { input: { id: brute.id, etag: brute.etag, owner: "alice@contoso.example", status: "ACTIVE" } },
        analyst,
      ),
    ).updateIncident;
    const stale = await platform.request(
      UpdateIncidentDocument,
      { input: { id: brute.id, etag: brute.etag, labels: ["x"] } },
      analyst,
    );
    expect(stale.errors?.[0].extensions?.code).toBe("CONFLICT");
    const closed = ok(
      await platform.request(
        CloseIncidentDocument,
        {
          input: {
            id: brute.id,
            etag: assigned.etag,
            classification: "TRUE_POSITIVE",
            reason: "Password spray from a known bad IP",
          },
        },
        analyst,
      ),
    ).closeIncident;
    expect(closed.status).toBe("CLOSED");
  });

  it("investigates an entity: its alerts, incidents and event timeline; and an incident's graph", async () => {
    const page = ok(
      await platform.request(
        EntityPageDocument,
        { type: "IP", value: "203.0.113.77", from: "2026-11-20T00:00:00Z", to: "2026-11-21T00:00:00Z" },
        analyst,
      ),
    ).entity;
    expect(page.alerts.totalCount).toBeGreaterThan(0);
    expect(page.incidents.totalCount).toBeGreaterThan(0);
    expect(page.timeline.totalCount).toBeGreaterThanOrEqual(14);
    expect(page.timeline.nodes.every((e) => e.srcIp === "203.0.113.77" || e.dstIp === "203.0.113.77")).toBe(
      true,
    );
    const incident = page.incidents.nodes[0];
    const queue = ok(await platform.request(IncidentQueueDocument, { first: 100 }, analyst)).incidents.nodes;
    const id = queue.find((i) => i.number === incident.number)!.id;
    const graph = ok(await platform.request(IncidentGraphDocument, { id }, analyst)).incident!.graph;
    expect(graph.nodes.filter((n) => n.kind === "INCIDENT")).toHaveLength(1);
    expect(graph.nodes.some((n) => n.kind === "ENTITY" && n.label === "IP 203.0.113.77")).toBe(true);
    for (const e of graph.edges) {
      expect(graph.nodes.some((n) => n.id === e.from)).toBe(true);
      expect(graph.nodes.some((n) => n.id === e.to)).toBe(true);
    }
    // Every entity kind's timeline query runs (accounts by column, hashes and processes inside attributes).
    for (const [type, value] of [
      ["ACCOUNT", "lee.gu@contoso.com"],
      ["FILE_HASH", "a_b%c"],
      ["PROCESS", "powershell.exe"],
      ["DOMAIN", "malicious-updates.example"],
    ] as const) {
      const res = await platform.request(
        EntityPageDocument,
        { type, value, from: "2026-11-20T00:00:00Z", to: "2026-11-21T00:00:00Z" },
        analyst,
      );
      expect({ type, errors: res.errors }).toEqual({ type, errors: undefined });
    }
    const bad = await platform.request(EntityPageDocument, { type: "IP", value: "not-an-ip" }, analyst);
    expect(bad.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
  });

  it("creates nothing new when the same files are ingested again", async () => {
    const before = (await alerts()).totalCount;
    for (const kind of KINDS) {
      const result = (await (await ingest(kind, fixture(kind))).json()) as {
        accepted: number;
        duplicates: number;
      };
      expect(result).toMatchObject({ accepted: 0, duplicates: fixture(kind).trim().split("\n").length });
    }
    expect((await alerts()).totalCount).toBe(before);
  });

  it("keeps the new events of a batch that mixes stored ones and an event sent twice", async () => {
    const [stored] = fixture("OCSF").trim().split("\n");
    const fresh = stored.replace(/"uid":"([^"]+)"/, '"uid":"$1-mixed"');
    expect(fresh).not.toBe(stored);
    const result = (await (await ingest("OCSF", [stored, fresh, fresh].join("\n") + "\n")).json()) as {
      accepted: number;
      duplicates: number;
    };
    expect(result).toMatchObject({ accepted: 1, duplicates: 2 });
    const again = (await (await ingest("OCSF", fresh + "\n")).json()) as { accepted: number };
    expect(again).toMatchObject({ accepted: 0, duplicates: 1 });
  });

  it("reports bad records by line and keeps the good ones; refuses unknown connectors, oversize bodies and readers", async () => {
    const good = fixture("OCSF")
      .trim()
      .split("\n")[0]
      .replace(/"uid":"([^"]+)"/, '"uid":"$1-copy"');
    const body = [
      good,
      "{not json",
      JSON.stringify({ class_uid: "x" }),
      JSON.stringify({ ...JSON.parse(good), time: "2099-01-01T00:00:00Z", metadata: { uid: "future" } }),
    ].join("\n");
    const res = (await (await ingest("OCSF", body)).json()) as {
      accepted: number;
      rejected: Array<{ line: number; reason: string }>;
    };
    expect(res.accepted).toBe(1);
    expect(res.rejected.map((r) => r.line)).toEqual([2, 3, 4]);
    expect(res.rejected[2].reason).toMatch(/future/);
    const unknown = await ingest("SPLUNK", good);
    expect(unknown.status).toBe(400);
    expect(
      ((await unknown.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0].extensions
        .code,
    ).toBe("BAD_USER_INPUT");
    const huge = await ingest("OCSF", "x".repeat(platform.config.maxBodyBytes + 10));
    expect(huge.status).toBe(413);
    const reader = await ingest("OCSF", good, await platform.token([Role.READER], tenant));
    expect(reader.status).toBe(403);
    const gql = ok(
      await platform.request(
        IngestEventsDocument,
        { connector: "OCSF", records: ["not an object"] },
        ingestor,
      ),
    ).ingestEvents;
    expect(gql.rejected).toHaveLength(1);
  });

  it("reports invalid STIX objects and keeps the valid ones", async () => {
    const broken = {
      ...bundle,
      objects: [
        ...bundle.objects,
        {
          type: "indicator",
          id: "indicator--bad",
          pattern: "[ipv4-addr:value = ",
          pattern_type: "stix",
          valid_from: "x",
        },
      ],
    };
    const result = ok(
      await platform.request(ImportStixBundleDocument, { bundle: broken }, admin),
    ).importStixBundle;
    expect(result.unchangedCount).toBe(2);
    expect(result.problems.length).toBeGreaterThan(0);
    const notABundle = await platform.request(ImportStixBundleDocument, { bundle: { type: "nope" } }, admin);
    expect(notABundle.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
  });
});
