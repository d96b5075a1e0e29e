import { Client } from "pg";
import type { DataSource } from "typeorm";
import { inTenant, Role } from "../subgraphs/common/src";
import { storeAlerts, type NewAlert } from "../subgraphs/siem/src/modules/alerts/alert-store";
import type { GroupingSettings } from "../subgraphs/siem/src/modules/incidents/correlation";
import { sendOperation, startTestPlatform, type Answer, type TestPlatform } from "./utils/platform";

/**
 * The SIEM's alert and incident invariants under real concurrent requests against a real Postgres: concurrent
 * ingests and rule runs correlate into the incidents one serial order would give (150 alerts at most, overflow
 * to a new incident, each alert in one incident, one row per (provider, source id)); incident numbers stay unique
 * per tenant; concurrent triage loses no update, refuses stale etags with CONFLICT and leaves exactly one activity
 * entry and one outbox event per committed change; two tenants at once share nothing. Where a race is narrow
 * (two transactions each holding what the other needs next), a lock held from a separate connection lines the
 * requests up so the interleaving happens every run.
 */

const HOUR = 3600_000;
const ALL_ROLES = [Role.READER, Role.ANALYST, Role.RESPONDER, Role.ADMIN, Role.INGESTOR];
/** The typed refusals a losing concurrent call may get. */
const REFUSALS = ["CONFLICT", "BAD_USER_INPUT", "NOT_FOUND"];

/** What one call answered: the HTTP status, the data and the errors' codes and messages. */
interface AlertRecord {
  sourceId: string;
  title?: string;
  severity?: string;
  entities?: Array<{ type: string; value: string }>;
}

describe("SIEM alerts and incidents under concurrency", () => {
  let platform: TestPlatform;
  let siem: DataSource;
  /** The database owner: sees every tenant's rows, and holds locks for the deterministic interleavings. */
  let admin: Client;
  const tokens = new Map<string, string>();
  let seq = 0;
  let ruleSeq = 0;

  const tokenOf = async (tenant: string) => {
    if (!tokens.has(tenant)) tokens.set(tenant, await platform.token(ALL_ROLES, tenant));
    return tokens.get(tenant)!;
  };

  /** Sends one operation through the gateway as `tenant`. */
  const send = async <T = Record<string, unknown>>(
    tenant: string,
    query: string,
    variables: Record<string, unknown> = {},
  ): Promise<Answer<T>> => sendOperation<T>(platform.gateway.url, await tokenOf(tenant), query, variables);

  /** Sends an operation that must succeed; its data. */
  async function must<T = Record<string, unknown>>(
    tenant: string,
    query: string,
    variables: Record<string, unknown> = {},
  ): Promise<T> {
    const answer = await send<T>(tenant, query, variables);
    if (answer.errors.length || !answer.data)
      throw new Error(`${query.slice(0, 80)}: HTTP ${answer.status} ${JSON.stringify(answer.errors)}`);
    return answer.data;
  }

  const INGEST = `mutation($i: [AlertInput!]!) { ingestAlerts(input: $i) { ids createdCount updatedCount duplicateCount rejected { message } } }`;
  type Ingested = {
    ingestAlerts: {
      ids: string[];
      createdCount: number;
      updatedCount: number;
      duplicateCount: number;
      rejected: unknown[];
    };
  };
  const alertInput = (a: AlertRecord) => ({
    provider: "EXTERNAL",
    sourceId: a.sourceId,
    title: a.title ?? `Alert ${a.sourceId}`,
    severity: a.severity ?? "LOW",
    entities: a.entities ?? [],
  });
  const ingest = (tenant: string, alerts: AlertRecord[]) =>
    send<Ingested>(tenant, INGEST, { i: alerts.map(alertInput) });

  const INCIDENT_FIELDS = "id number etag status title labels";
  interface IncidentView {
    id: string;
    number: number;
    etag: string;
    status: string;
    title: string;
    labels: string[];
  }
  const incident = async (tenant: string, id: string) =>
    (
      await must<{ incident: IncidentView }>(
        tenant,
        `query($id: ID!) { incident(id: $id) { ${INCIDENT_FIELDS} } }`,
        {
          id,
        },
      )
    ).incident;
  const UPDATE = `mutation($id: ID!, $e: String!, $title: String, $labels: [String!]) { updateIncident(input: { id: $id, etag: $e, title: $title, labels: $labels }) { ${INCIDENT_FIELDS} } }`;
  const CLOSE = `mutation($id: ID!, $e: String!) { closeIncident(input: { id: $id, etag: $e, classification: FALSE_POSITIVE, reason: "concurrency" }) { ${INCIDENT_FIELDS} } }`;
  const REOPEN = `mutation($id: ID!, $e: String!) { reopenIncident(input: { id: $id, etag: $e }) { ${INCIDENT_FIELDS} } }`;
  const MERGE = `mutation($t: ID!, $s: [ID!]!, $e: String, $se: [String!]) { mergeIncidents(input: { targetId: $t, sourceIds: $s, etag: $e, sourceEtags: $se }) { ${INCIDENT_FIELDS} } }`;
  const CREATE = `mutation($t: String!, $a: [ID!]!) { createIncident(input: { title: $t, severity: LOW, alertIds: $a }) { ${INCIDENT_FIELDS} } }`;
  const UPDATE_ALERTS = `mutation($ids: [ID!]!) { updateAlerts(input: { ids: $ids, status: ACTIVE, comment: "triage" }) { updatedCount } }`;

  /** What is wrong with an answer beyond a typed refusal: a 5xx, an internal error, an error without a code. */
  const untyped = (a: Answer<unknown>) =>
    a.status >= 500 || a.errors.some((e) => !REFUSALS.includes(e.code))
      ? [`HTTP ${a.status} ${JSON.stringify(a.errors).slice(0, 300)}`]
      : [];

  /** Rows of a query as the database owner (every tenant's). */
  const rows = async <T = Record<string, unknown>>(sql: string, params: unknown[] = []) =>
    (await admin.query(sql, params)).rows as T[];

  /** The incidents holding each alert (unmerged ones), alert id → incident ids. */
  const holders = async (tenant: string, alertIds: string[]) => {
    const found = await rows<{ alert_id: string; incident_id: string }>(
      `SELECT ia.alert_id, ia.incident_id FROM siem.incident_alerts ia
       JOIN siem.incidents i ON i.id = ia.incident_id AND i.merged_into IS NULL
       WHERE ia.tenant_id = $1 AND ia.alert_id = ANY($2::uuid[])`,
      [tenant, alertIds],
    );
    const by = new Map(alertIds.map((id) => [id, [] as string[]]));
    for (const r of found) by.get(r.alert_id)!.push(r.incident_id);
    return by;
  };

  /**
   * Every alert is in exactly one unmerged incident, and the incidents hold those alerts in the sizes expected
   * (sorted), with `alert_count` as stored equal to what they hold.
   */
  const expectIncidentSizes = async (tenant: string, alertIds: string[], sizes: number[]) => {
    const by = await holders(tenant, alertIds);
    const wrong = [...by].filter(([, held]) => held.length !== 1);
    expect(wrong).toEqual([]);
    const counts = new Map<string, number>();
    for (const [, [id]] of by) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect([...counts.values()].sort((a, b) => a - b)).toEqual(sizes);
    const stored = await rows<{ id: string; alert_count: number; held: number }>(
      `SELECT i.id, i.alert_count, (SELECT count(*)::int FROM siem.incident_alerts ia WHERE ia.incident_id = i.id) AS held
       FROM siem.incidents i WHERE i.id = ANY($1::uuid[])`,
      [[...counts.keys()]],
    );
    expect(stored.filter((s) => s.alert_count !== s.held)).toEqual([]);
  };

  /**
   * Waits until `n` backends of the test database wait on a lock (the interleaving a test lines up), or until one
   * of the `pending` requests has answered (the code under test did not need to wait where the lineup expected).
   */
  const lineUp = async (n: number, pending: Array<Promise<unknown>>) => {
    let answered = false;
    for (const p of pending) void p.finally(() => (answered = true));
    for (let tries = 0; tries < 400 && !answered; tries++) {
      const [{ waiting }] = await rows<{ waiting: number }>(
        `SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      if (waiting >= n) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    if (!answered) throw new Error(`never saw ${n} backends waiting on a lock`);
  };

  /** A transaction on a connection of its own, to hold locks while requests line up behind them. */
  const blocker = async () => {
    const c = new Client({ connectionString: platform.db.url });
    await c.connect();
    await c.query("BEGIN");
    return {
      query: (sql: string, params: unknown[] = []) => c.query(sql, params),
      end: async (how: "COMMIT" | "ROLLBACK") => {
        await c.query(how);
        await c.end();
      },
    };
  };

  /** The incident each freshly ingested alert was correlated into, in order. */
  const incidentsOfAlerts = async (alertIds: string[]) => {
    const links = await rows<{ alert_id: string; incident_id: string }>(
      `SELECT alert_id, incident_id FROM siem.incident_alerts WHERE alert_id = ANY($1::uuid[])`,
      [alertIds],
    );
    return alertIds.map((id) => links.find((l) => l.alert_id === id)!.incident_id);
  };

  /** Alerts stored as a rule run stores them (the rule runner's write path), in one transaction. */
  const raise = async (
    tenant: string,
    ruleId: string,
    grouping: GroupingSettings,
    alerts: Array<Partial<NewAlert>>,
  ) =>
    (
      await inTenant(siem, tenant, (m) =>
        storeAlerts(
          m,
          tenant,
          alerts.map((a) => ({
            provider: "ANALYTICS_RULE",
            sourceId: `rule-${++seq}`,
            title: `Rule alert ${seq}`,
            description: "",
            severity: "MEDIUM",
            tactics: [],
            techniques: [],
            entities: [],
            startTime: new Date(Date.now() - HOUR),
            endTime: new Date(Date.now() - HOUR),
            ruleId,
            grouping,
            ...a,
          })),
        ),
      )
    ).ids;
  const newRule = () => `01900000-0000-7000-8000-${String(++ruleSeq).padStart(12, "0")}`;

  beforeAll(async () => {
    platform = await startTestPlatform();
    siem = await platform.connect("siem");
    admin = new Client({ connectionString: platform.db.url });
    await admin.connect();
  }, 120_000);

  afterAll(async () => {
    await admin?.end();
    await platform?.stop();
  });

  it("correlates concurrent rule runs of one grouping into full incidents and one overflow, each alert once", async () => {
    const tenant = "conc-rules";
    const anyAlert = newRule();
    const byEntities = newRule();
    const any: GroupingSettings = {
      enabled: true,
      matchingMethod: "ANY_ALERT",
      lookbackMs: 5 * HOUR,
      reopenClosedIncident: false,
    };
    const all: GroupingSettings = { ...any, matchingMethod: "ALL_ENTITIES" };
    const hostA = [{ type: "HOST" as const, value: "conc-a" }];
    const hostB = [{ type: "HOST" as const, value: "CONC-B" }];
    // 8 runs at once of 40 alerts each for the ANY_ALERT rule (320: 150 + 150 + 20), and 8 runs of the
    // ALL_ENTITIES rule alternating two entity sets (80 each: one incident per set, the case of a value aside).
    const runs = await Promise.all([
      ...Array.from({ length: 8 }, () =>
        raise(
          tenant,
          anyAlert,
          any,
          Array.from({ length: 40 }, () => ({})),
        ),
      ),
      ...Array.from({ length: 8 }, (_, r) =>
        raise(
          tenant,
          byEntities,
          all,
          Array.from({ length: 20 }, (_, i) => ({
            entities:
              (r + i) % 2 ? hostA : [{ type: "HOST" as const, value: i % 3 ? "conc-b" : hostB[0].value }],
          })),
        ),
      ),
    ]);
    await expectIncidentSizes(tenant, runs.slice(0, 8).flat(), [20, 150, 150]);
    await expectIncidentSizes(tenant, runs.slice(8).flat(), [80, 80]);
  });

  it("fills incidents from concurrent ingests sharing an entity, with no duplicate when each batch is sent twice at once", async () => {
    const tenant = "conc-ingest";
    const shared = { type: "HOST", value: "conc-shared-host" };
    // 8 batches of 25 alerts that all name one host (200: 150 + 50), each sent twice at the same time.
    const batches = Array.from({ length: 8 }, (_, b) =>
      Array.from({ length: 25 }, (_, i) => ({
        sourceId: `ing-${b}-${i}`,
        entities: [shared, { type: "IP", value: `10.9.${b}.${i}` }],
      })),
    );
    const answers = await Promise.all([...batches, ...batches].map((batch) => ingest(tenant, batch)));
    expect(answers.flatMap(untyped)).toEqual([]);
    expect(answers.flatMap((a) => a.errors)).toEqual([]);
    const payloads = answers.map((a) => a.data!.ingestAlerts);
    // Each record created once, by whichever copy got there first; the other copy names the same alert.
    expect(payloads.reduce((n, p) => n + p.createdCount, 0)).toBe(200);
    expect(payloads.reduce((n, p) => n + p.duplicateCount, 0)).toBe(200);
    for (let b = 0; b < 8; b++) expect(payloads[b + 8].ids).toEqual(payloads[b].ids);
    const [{ n, keys }] = await rows<{ n: number; keys: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT source_id)::int AS keys FROM siem.alerts WHERE tenant_id = $1`,
      [tenant],
    );
    expect({ n, keys }).toEqual({ n: 200, keys: 200 });
    const ids = payloads.slice(0, 8).flatMap((p) => p.ids);
    await expectIncidentSizes(tenant, ids, [50, 150]);
    // One alert.created event per alert, not per copy.
    const [{ events }] = await rows<{ events: number }>(
      `SELECT count(*)::int AS events FROM siem.outbox WHERE tenant_id = $1 AND topic = 'alert.created'`,
      [tenant],
    );
    expect(events).toBe(200);
  });

  it("stores overlapping batches sent in different orders at once, each alert once", async () => {
    const tenant = "conc-order";
    // A row another transaction is inserting makes each batch wait at it: the one that holds the keys before it
    // (in its own order) must not wait for the one holding the keys after it, and the other way round.
    const hold = await blocker();
    await hold.query(
      `INSERT INTO siem.alerts (id, tenant_id, provider, source_id, title, severity, status, start_time, end_time)
       VALUES (gen_random_uuid(), $1, 'EXTERNAL', 'ord-m', 'held', 'LOW', 'NEW', now(), now())`,
      [tenant],
    );
    const forward = ["ord-a", "ord-m", "ord-z"].map((sourceId) => ({ sourceId }));
    const both = [ingest(tenant, forward), ingest(tenant, [...forward].reverse())];
    await lineUp(2, both);
    await hold.end("ROLLBACK");
    const answers = await Promise.all(both);
    expect(answers.flatMap((a) => a.errors)).toEqual([]);
    expect(answers.reduce((n, a) => n + a.data!.ingestAlerts.createdCount, 0)).toBe(3);
    expect(answers[1].data!.ingestAlerts.ids).toEqual([...answers[0].data!.ingestAlerts.ids].reverse());
    // And at volume: six rotations of 60 records at once.
    const records = Array.from({ length: 60 }, (_, i) => ({ sourceId: `rot-${i}` }));
    const rotated = await Promise.all(
      Array.from({ length: 6 }, (_, r) =>
        ingest(tenant, [...records.slice(r * 10), ...records.slice(0, r * 10)]),
      ),
    );
    expect(rotated.flatMap((a) => a.errors)).toEqual([]);
    expect(rotated.reduce((n, a) => n + a.data!.ingestAlerts.createdCount, 0)).toBe(60);
    const [{ n }] = await rows<{ n: number }>(
      `SELECT count(*)::int AS n FROM siem.alerts WHERE tenant_id = $1`,
      [tenant],
    );
    expect(n).toBe(63);
  });

  it("numbers incidents uniquely per tenant when created by hand and by correlation at once, in two tenants", async () => {
    const tenants = ["conc-num-a", "conc-num-b"];
    // In each tenant: 10 incidents by hand and 10 correlated ones (one alert each, nothing shared), all at once;
    // both tenants use the same source ids and entity values.
    const answers = await Promise.all(
      tenants.flatMap((tenant) => [
        ...Array.from({ length: 10 }, (_, i) => send(tenant, CREATE, { t: `By hand ${i}`, a: [] })),
        ...Array.from({ length: 10 }, (_, i) =>
          ingest(tenant, [
            { sourceId: `num-${i}`, entities: [{ type: "ACCOUNT", value: `user-${i}@example.com` }] },
          ]),
        ),
      ]),
    );
    expect(answers.flatMap((a) => a.errors)).toEqual([]);
    for (const tenant of tenants) {
      const numbers = await rows<{ number: number }>(
        `SELECT number FROM siem.incidents WHERE tenant_id = $1 ORDER BY number`,
        [tenant],
      );
      expect(numbers.map((r) => r.number)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      const [{ last }] = await rows<{ last: number }>(
        `SELECT last_number AS last FROM siem.incident_counters WHERE tenant_id = $1`,
        [tenant],
      );
      expect(last).toBe(20);
    }
    // Nothing crossed: every link joins an alert and an incident of its own tenant, each tenant has its own alerts.
    const [{ crossed }] = await rows<{ crossed: number }>(
      `SELECT count(*)::int AS crossed FROM siem.incident_alerts ia
       JOIN siem.alerts a ON a.id = ia.alert_id JOIN siem.incidents i ON i.id = ia.incident_id
       WHERE a.tenant_id <> ia.tenant_id OR i.tenant_id <> ia.tenant_id`,
    );
    expect(crossed).toBe(0);
    const perTenant = await rows<{ tenant_id: string; n: number }>(
      `SELECT tenant_id, count(*)::int AS n FROM siem.alerts WHERE tenant_id = ANY($1) GROUP BY tenant_id ORDER BY tenant_id`,
      [tenants],
    );
    expect(perTenant).toEqual(tenants.map((tenant_id) => ({ tenant_id, n: 10 })));
  });

  it("refuses all but one of concurrent changes on one etag, and loses no update when writers retry", async () => {
    const tenant = "conc-etag";
    const { createIncident: created } = await must<{ createIncident: IncidentView }>(tenant, CREATE, {
      t: "Etag target",
      a: [],
    });
    // Six writers on one etag: one wins, five are told CONFLICT, one change recorded.
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        send(tenant, UPDATE, { id: created.id, e: created.etag, title: `Writer ${i}` }),
      ),
    );
    expect(answers.flatMap(untyped)).toEqual([]);
    expect(answers.filter((a) => a.errors.length === 0)).toHaveLength(1);
    expect(answers.flatMap((a) => a.errors.map((e) => e.code))).toEqual(Array(5).fill("CONFLICT"));
    const counts = async (action: string) =>
      (
        await rows<{ activity: number; events: number }>(
          `SELECT (SELECT count(*)::int FROM siem.incident_activity WHERE incident_id = $1 AND action = $2) AS activity,
                  (SELECT count(*)::int FROM siem.outbox WHERE key = $1::text AND topic = 'incident.' || $2) AS events`,
          [created.id, action],
        )
      )[0];
    expect(await counts("updated")).toEqual({ activity: 1, events: 1 });
    // Six writers each adding their label by read-modify-write, retrying on CONFLICT: every label survives.
    const addLabel = async (label: string) => {
      for (let attempt = 0; attempt < 100; attempt++) {
        const current = await incident(tenant, created.id);
        const answer = await send(tenant, UPDATE, {
          id: created.id,
          e: current.etag,
          labels: [...current.labels, label],
        });
        if (answer.errors.length === 0) return attempt;
        expect(answer.errors.map((e) => e.code)).toEqual(["CONFLICT"]);
      }
      throw new Error(`${label}: no attempt succeeded`);
    };
    await Promise.all(Array.from({ length: 6 }, (_, i) => addLabel(`writer-${i}`)));
    const after = await incident(tenant, created.id);
    expect([...after.labels].sort()).toEqual(Array.from({ length: 6 }, (_, i) => `writer-${i}`));
    expect(await counts("updated")).toEqual({ activity: 7, events: 7 });
    expect(Number(after.etag)).toBe(Number(created.etag) + 7);
  });

  it("records exactly the committed changes when triage, merges and correlation hit the same incidents at once", async () => {
    const tenant = "conc-triage";
    // Eight incidents of one alert each (distinct hosts), correlated from one ingest.
    const seeded = await must<Ingested>(tenant, INGEST, {
      i: Array.from({ length: 8 }, (_, i) =>
        alertInput({ sourceId: `tri-${i}`, entities: [{ type: "HOST", value: `tri-host-${i}` }] }),
      ),
    });
    const incidentIds = await incidentsOfAlerts(seeded.ingestAlerts.ids);
    const succeeded = new Map<string, number>();
    const count = (id: string, action: string) =>
      succeeded.set(`${id}|${action}`, (succeeded.get(`${id}|${action}`) ?? 0) + 1);
    const problems: string[] = [];
    let more = 0;
    for (let round = 0; round < 4; round++) {
      const [a, b, c, d, e, f] = await Promise.all(incidentIds.map((id) => incident(tenant, id)));
      const calls: Array<[Promise<Answer>, () => void]> = [];
      const call = (query: string, vars: Record<string, unknown>, onSuccess: () => void) =>
        calls.push([send(tenant, query, vars), onSuccess]);
      // Two updates on each of a, b: one wins each pair.
      for (const target of [a, b])
        for (const title of ["one", "two"])
          call(UPDATE, { id: target.id, e: target.etag, title: `${title} ${round}` }, () =>
            count(target.id, "updated"),
          );
      // Close and reopen c on the same etag: one of them, depending on its status.
      call(CLOSE, { id: c.id, e: c.etag }, () => count(c.id, "closed"));
      call(REOPEN, { id: c.id, e: c.etag }, () => count(c.id, "reopened"));
      call(UPDATE, { id: c.id, e: c.etag, title: `c ${round}` }, () => count(c.id, "updated"));
      // Merge e into d (checked on their etags) while e is closed and updated.
      call(MERGE, { t: d.id, s: [e.id], e: d.etag, se: [e.etag] }, () => {
        count(d.id, "merged");
        count(e.id, "merged");
      });
      call(CLOSE, { id: e.id, e: e.etag }, () => count(e.id, "closed"));
      call(UPDATE, { id: d.id, e: d.etag, title: `d ${round}` }, () => count(d.id, "updated"));
      // Merge f into a, unchecked, and merge a into f: at most one of them.
      call(MERGE, { t: a.id, s: [f.id] }, () => {
        count(a.id, "merged");
        count(f.id, "merged");
      });
      call(MERGE, { t: f.id, s: [a.id] }, () => {
        count(f.id, "merged");
        count(a.id, "merged");
      });
      // New alerts on the hosts of a, c, d and f: correlation adds them (or opens a new incident when theirs is
      // closed or merged).
      for (const i of [0, 2, 3, 5])
        call(
          INGEST,
          {
            i: [
              alertInput({
                sourceId: `tri-more-${round}-${i}`,
                entities: [{ type: "HOST", value: `tri-host-${i}` }],
              }),
            ],
          },
          () => more++,
        );
      const answers = await Promise.all(calls.map(([p]) => p));
      answers.forEach((answer, i) => {
        problems.push(...untyped(answer));
        if (answer.errors.length === 0) calls[i][1]();
      });
    }
    expect(problems).toEqual([]);
    expect(more).toBe(16);
    expect([...succeeded.keys()].some((k) => k.endsWith("|merged"))).toBe(true);
    // Each successful call is one activity entry and one outbox event of its kind, by the caller; a refused one
    // left neither.
    const recorded = await rows<{ incident_id: string; action: string; activity: number; events: number }>(
      `SELECT a.incident_id, a.action, a.n AS activity,
              (SELECT count(*)::int FROM siem.outbox o WHERE o.key = a.incident_id::text AND o.topic = 'incident.' || a.action
                 AND o.payload->>'actor' = $2) AS events
       FROM (SELECT incident_id, action, count(*)::int AS n FROM siem.incident_activity
             WHERE tenant_id = $1 AND actor = $2 GROUP BY incident_id, action) a`,
      [tenant, "tester@example.com"],
    );
    expect(recorded.filter((r) => r.activity !== r.events)).toEqual([]);
    expect(Object.fromEntries(recorded.map((r) => [`${r.incident_id}|${r.action}`, r.activity]))).toEqual(
      Object.fromEntries(succeeded),
    );
    // The system's own changes (correlation) too: one event per activity entry, whatever the action.
    const [{ unmatched }] = await rows<{ unmatched: number }>(
      `SELECT count(*)::int AS unmatched FROM (
         SELECT incident_id::text AS key, 'incident.' || action AS topic, count(*) AS n FROM siem.incident_activity
         WHERE tenant_id = $1 AND action <> 'alert_updated' GROUP BY 1, 2) a
       FULL JOIN (SELECT key, topic, count(*) AS n FROM siem.outbox WHERE tenant_id = $1 AND topic LIKE 'incident.%' GROUP BY 1, 2) o
         USING (key, topic)
       WHERE a.n IS DISTINCT FROM o.n`,
      [tenant],
    );
    expect(unmatched).toBe(0);
    // Every alert in one unmerged incident; merged incidents hold none; counts as stored.
    const alertIds = (
      await rows<{ id: string }>(`SELECT id FROM siem.alerts WHERE tenant_id = $1`, [tenant])
    ).map((r) => r.id);
    const by = await holders(tenant, alertIds);
    expect([...by].filter(([, held]) => held.length !== 1)).toEqual([]);
    const [{ leftovers, miscounted }] = await rows<{ leftovers: number; miscounted: number }>(
      `SELECT (SELECT count(*)::int FROM siem.incident_alerts ia JOIN siem.incidents i ON i.id = ia.incident_id
               WHERE i.tenant_id = $1 AND i.merged_into IS NOT NULL) AS leftovers,
              (SELECT count(*)::int FROM siem.incidents i WHERE i.tenant_id = $1 AND i.merged_into IS NULL
                 AND i.alert_count <> (SELECT count(*) FROM siem.incident_alerts ia WHERE ia.incident_id = i.id)) AS miscounted`,
      [tenant],
    );
    expect({ leftovers, miscounted }).toEqual({ leftovers: 0, miscounted: 0 });
  });

  it.each([
    {
      who: "an analyst triages",
      change: (tenant: string, alertId: string) => send(tenant, UPDATE_ALERTS, { ids: [alertId] }),
      after: { status: "ACTIVE", severity: "LOW" },
    },
    {
      who: "a provider sends a new severity of",
      change: (tenant: string) => ingest(tenant, [{ sourceId: "mt-one", severity: "HIGH" }]),
      after: { status: "NEW", severity: "HIGH" },
    },
  ])("merges incidents while $who an alert of a source incident", async ({ change, after }) => {
    const tenant = `conc-merge-${after.status}`;
    const seeded = await must<Ingested>(tenant, INGEST, {
      i: ["mt-target", "mt-one", "mt-two"].map((sourceId) =>
        alertInput({ sourceId, entities: [{ type: "HOST", value: sourceId }] }),
      ),
    });
    const [, alertOfOne] = seeded.ingestAlerts.ids;
    const [target, one, two] = await incidentsOfAlerts(seeded.ingestAlerts.ids);
    // The merge locks the target and `one`, then waits for `two`; the change locks the alert, then waits to log
    // it in `one`. Released, the merge moves `one`'s alerts into the target.
    const hold = await blocker();
    await hold.query(`SELECT 1 FROM siem.incidents WHERE id = $1 FOR KEY SHARE`, [two]);
    const merging = send(tenant, MERGE, { t: target, s: [one, two] });
    await lineUp(1, [merging]);
    const triaging = change(tenant, alertOfOne);
    await lineUp(2, [merging, triaging]);
    await hold.end("COMMIT");
    const answers = await Promise.all([merging, triaging]);
    expect(answers.map((a) => a.errors)).toEqual([[], []]);
    await expectIncidentSizes(tenant, seeded.ingestAlerts.ids, [3]);
    const [alert] = await rows(`SELECT status, severity FROM siem.alerts WHERE id = $1`, [alertOfOne]);
    expect(alert).toEqual(after);
  });

  it("creates an incident by hand from an alert a provider is updating while correlation is busy", async () => {
    const tenant = "conc-create-repeat";
    const seeded = await must<Ingested>(tenant, INGEST, { i: [alertInput({ sourceId: "cr-known" })] });
    const [known] = seeded.ingestAlerts.ids;
    // The provider's batch repeats the known alert with a new severity (locking it) and brings a new one, which
    // waits for the tenant's correlation lock; the analyst's incident takes the next number, then refers to the
    // known alert. Released, correlation wants the next number too.
    const hold = await blocker();
    await hold.query(`SELECT pg_advisory_xact_lock(hashtext('siem.incidents'), hashtext($1))`, [tenant]);
    const pushing = ingest(tenant, [
      { sourceId: "cr-known", severity: "HIGH" },
      { sourceId: "cr-new", entities: [{ type: "HOST", value: "cr-new" }] },
    ]);
    await lineUp(1, [pushing]);
    const creating = send(tenant, CREATE, { t: "By hand", a: [known] });
    await lineUp(2, [pushing, creating]);
    await hold.end("COMMIT");
    const answers = await Promise.all([pushing, creating]);
    expect(answers.map((a) => a.errors)).toEqual([[], []]);
    const numbers = await rows<{ number: number }>(
      `SELECT number FROM siem.incidents WHERE tenant_id = $1 ORDER BY number`,
      [tenant],
    );
    expect(numbers.map((r) => r.number)).toEqual([1, 2, 3]);
  });

  it("takes a provider's repeat of an alert of an incident and a new alert while another ingest correlates into that incident", async () => {
    const tenant = "conc-repeat-correlate";
    const host = { type: "HOST", value: "rc-host" };
    const seeded = await must<Ingested>(tenant, INGEST, {
      i: [alertInput({ sourceId: "rc-known", entities: [host] })],
    });
    const [incidentId] = await incidentsOfAlerts(seeded.ingestAlerts.ids);
    // First in line for the correlation lock: an alert on the same host, joining the incident. Second: the
    // provider's batch repeating the known alert with a new severity (which the incident rolls up) plus a new
    // alert elsewhere. Released, the first locks the incident to add its alert.
    const hold = await blocker();
    await hold.query(`SELECT pg_advisory_xact_lock(hashtext('siem.incidents'), hashtext($1))`, [tenant]);
    const joining = ingest(tenant, [{ sourceId: "rc-joins", entities: [host] }]);
    await lineUp(1, [joining]);
    const repeating = ingest(tenant, [
      { sourceId: "rc-known", severity: "HIGH", entities: [host] },
      { sourceId: "rc-elsewhere", entities: [{ type: "HOST", value: "rc-elsewhere" }] },
    ]);
    await lineUp(2, [joining, repeating]);
    await hold.end("COMMIT");
    const answers = await Promise.all([joining, repeating]);
    expect(answers.map((a) => a.errors)).toEqual([[], []]);
    const [{ severity, alerts }] = await rows<{ severity: string; alerts: number }>(
      `SELECT severity, alert_count AS alerts FROM siem.incidents WHERE id = $1`,
      [incidentId],
    );
    expect({ severity, alerts }).toEqual({ severity: "HIGH", alerts: 2 });
  });

  it("triages alerts of two incidents while one ingest correlates new alerts into both, in the other order", async () => {
    const tenant = "conc-triage-two";
    const seeded = await must<Ingested>(tenant, INGEST, {
      i: ["tt-1", "tt-2"].map((sourceId) =>
        alertInput({ sourceId, entities: [{ type: "HOST", value: sourceId }] }),
      ),
    });
    const holding = await incidentsOfAlerts(seeded.ingestAlerts.ids);
    // The triage logs to its alerts' incidents in id order: `low`, then `high`. The ingest correlates into
    // `high`, then `low`, holding each incident it added to; it waits at `low` until the triage holds it too.
    const [low, high] = [...holding].sort();
    const alertIn = (incidentId: string) => seeded.ingestAlerts.ids[holding.indexOf(incidentId)];
    const hostOf = (incidentId: string) => ({
      type: "HOST",
      value: holding.indexOf(incidentId) ? "tt-2" : "tt-1",
    });
    const hold = await blocker();
    await hold.query(`SELECT 1 FROM siem.incidents WHERE id = $1 FOR KEY SHARE`, [low]);
    const correlating = ingest(tenant, [
      { sourceId: "tt-joins-high", entities: [hostOf(high)] },
      { sourceId: "tt-joins-low", entities: [hostOf(low)] },
    ]);
    await lineUp(1, [correlating]);
    const triaging = send(tenant, UPDATE_ALERTS, { ids: [alertIn(low), alertIn(high)] });
    await lineUp(2, [correlating, triaging]);
    await hold.end("COMMIT");
    const answers = await Promise.all([correlating, triaging]);
    expect(answers.map((a) => a.errors)).toEqual([[], []]);
    await expectIncidentSizes(
      tenant,
      [...seeded.ingestAlerts.ids, ...answers[0].data!.ingestAlerts.ids],
      [2, 2],
    );
    const logged = await rows<{ incident_id: string }>(
      `SELECT incident_id FROM siem.incident_activity WHERE tenant_id = $1 AND action = 'alert_updated' ORDER BY incident_id`,
      [tenant],
    );
    expect(logged.map((r) => r.incident_id)).toEqual([low, high]);
  });

  it("correlates an alert into the newest open incident sharing its entity when the newer one closes meanwhile", async () => {
    const tenant = "conc-close-correlate";
    const host = { type: "HOST", value: "cc-host" };
    // Two open incidents share the host: the correlated one (older) and one an analyst made of its second alert.
    const seeded = await must<Ingested>(tenant, INGEST, {
      i: ["cc-1", "cc-2"].map((sourceId) => alertInput({ sourceId, entities: [host] })),
    });
    const [older] = await incidentsOfAlerts(seeded.ingestAlerts.ids);
    const { createIncident: newer } = await must<{ createIncident: IncidentView }>(tenant, CREATE, {
      t: "By hand",
      a: [seeded.ingestAlerts.ids[1]],
    });
    // The newer one is being closed while an alert on the host arrives: the alert waits for it, then must join
    // the older one, as it would had it arrived just after the close.
    const hold = await blocker();
    await hold.query(`UPDATE siem.incidents SET status = 'CLOSED', etag = etag + 1 WHERE id = $1`, [
      newer.id,
    ]);
    const arriving = ingest(tenant, [{ sourceId: "cc-3", entities: [host] }]);
    await lineUp(1, [arriving]);
    await hold.end("COMMIT");
    const answer = await arriving;
    expect(answer.errors).toEqual([]);
    expect(await incidentsOfAlerts(answer.data!.ingestAlerts.ids)).toEqual([older]);
    const [{ n }] = await rows<{ n: number }>(
      `SELECT count(*)::int AS n FROM siem.incidents WHERE tenant_id = $1`,
      [tenant],
    );
    expect(n).toBe(2);
  });

  it("groups an NRT rule's alerts from concurrent event ingests into full incidents and one overflow", async () => {
    const tenant = "conc-nrt";
    await must(tenant, `mutation($i: AnalyticsRuleInput!) { createAnalyticsRule(input: $i) { id } }`, {
      i: {
        kind: "NRT",
        displayName: "Every sign-in",
        description: "One alert per sign-in, all in one incident group.",
        severity: "LOW",
        filter: { field: "class_uid", op: "eq", value: 3002 },
        alertPerResult: true,
        incidentGrouping: { enabled: true, matchingMethod: "ANY_ALERT", lookbackDuration: "PT5H" },
      },
    });
    // 8 NDJSON posts at once of 40 sign-ins each (320 alerts: 150 + 150 + 20), every post sent twice.
    const post = (body: string) =>
      fetch(`${platform.gateway.url.replace(/\/graphql$/, "")}/ingest/events?connector=OCSF`, {
        method: "POST",
        headers: { authorization: `Bearer ${tokens.get(tenant)}`, "content-type": "application/x-ndjson" },
        body,
      });
    await tokenOf(tenant);
    const bodies = Array.from({ length: 8 }, (_, b) =>
      Array.from({ length: 40 }, (_, i) =>
        JSON.stringify({
          class_uid: 3002,
          activity_id: 1,
          time: new Date().toISOString(),
          metadata: { uid: `nrt-${b}-${i}` },
        }),
      ).join("\n"),
    );
    const answers = await Promise.all([...bodies, ...bodies].map(post));
    expect(answers.map((a) => a.status)).toEqual(Array(16).fill(200));
    const alertIds = (
      await rows<{ id: string }>(
        `SELECT id FROM siem.alerts WHERE tenant_id = $1 AND provider = 'ANALYTICS_RULE'`,
        [tenant],
      )
    ).map((r) => r.id);
    expect(alertIds).toHaveLength(320);
    await expectIncidentSizes(tenant, alertIds, [20, 150, 150]);
  });

  describe("hunting bookmarks attached to incidents", () => {
    const BOOKMARK = {
      name: "Evidence",
      query: "Events | take 3",
      queryStartTime: "2026-01-01T00:00:00Z",
      queryEndTime: "2026-01-02T00:00:00Z",
      rows: [{ host: "bm-host" }],
    };
    const LINK = `{ bookmarkId: $b, incidentId: $i }`;
    const ATTACH = `mutation($b: ID!, $i: ID!) { attachBookmarkToIncident(input: ${LINK}) { id } }`;
    const DETACH = `mutation($b: ID!, $i: ID!) { detachBookmarkFromIncident(input: ${LINK}) { id } }`;
    const DELETE = `mutation($b: ID!) { deleteBookmark(id: $b) { id } }`;
    /** `n` incidents of one alert each and a bookmark attached to the first. */
    const seed = async (tenant: string, n: number) => {
      const seeded = await must<Ingested>(tenant, INGEST, {
        i: Array.from({ length: n }, (_, i) =>
          alertInput({ sourceId: `bm-${i}`, entities: [{ type: "HOST", value: `bm-host-${i}` }] }),
        ),
      });
      const incidents = await incidentsOfAlerts(seeded.ingestAlerts.ids);
      const { createBookmark } = await must<{ createBookmark: { id: string } }>(
        tenant,
        `mutation($i: CreateBookmarkInput!) { createBookmark(input: $i) { id } }`,
        { i: BOOKMARK },
      );
      await must(tenant, ATTACH, { b: createBookmark.id, i: incidents[0] });
      return { incidents, bookmark: createBookmark.id };
    };
    const attachedTo = async (bookmark: string) =>
      (
        await rows<{ incident_id: string }>(
          `SELECT incident_id FROM siem.incident_bookmarks WHERE bookmark_id = $1`,
          [bookmark],
        )
      ).map((r) => r.incident_id);

    it("detaches a bookmark from an incident while it is being deleted", async () => {
      const tenant = "conc-bookmark-detach";
      const {
        incidents: [incidentId],
        bookmark,
      } = await seed(tenant, 1);
      // The detach waits for the incident; the delete locks the bookmark, then waits for the incident too.
      const hold = await blocker();
      await hold.query(`SELECT 1 FROM siem.incidents WHERE id = $1 FOR KEY SHARE`, [incidentId]);
      const detaching = send(tenant, DETACH, { b: bookmark, i: incidentId });
      await lineUp(1, [detaching]);
      const deleting = send(tenant, DELETE, { b: bookmark });
      await lineUp(2, [detaching, deleting]);
      await hold.end("COMMIT");
      const answers = await Promise.all([detaching, deleting]);
      expect(answers.map((a) => a.errors)).toEqual([[], []]);
      const [{ n }] = await rows<{ n: number }>(
        `SELECT count(*)::int AS n FROM siem.bookmarks WHERE id = $1`,
        [bookmark],
      );
      expect(n).toBe(0);
      // Detached once: by the detach, which came first; the delete found nothing left to detach.
      const logged = await rows<{ changes: Record<string, unknown> }>(
        `SELECT changes FROM siem.incident_activity WHERE incident_id = $1 AND changes ? 'bookmarkDetached'`,
        [incidentId],
      );
      expect(logged).toHaveLength(1);
    });

    it("deletes a bookmark while a merge moves it from a source incident to the target", async () => {
      const tenant = "conc-bookmark-merge";
      const {
        incidents: [source, target, other],
        bookmark,
      } = await seed(tenant, 3);
      // The merge locks the target and the bookmark's incident, then waits for the other source; the delete
      // locks the bookmark, then waits for the incident it is attached to.
      const hold = await blocker();
      await hold.query(`SELECT 1 FROM siem.incidents WHERE id = $1 FOR KEY SHARE`, [other]);
      const merging = send(tenant, MERGE, { t: target, s: [source, other] });
      await lineUp(1, [merging]);
      const deleting = send(tenant, DELETE, { b: bookmark });
      await lineUp(2, [merging, deleting]);
      await hold.end("COMMIT");
      const answers = await Promise.all([merging, deleting]);
      expect(answers.map((a) => a.errors)).toEqual([[], []]);
      expect(await attachedTo(bookmark)).toEqual([]);
      // The detachment is logged where the bookmark was when it went: the target.
      const [{ n }] = await rows<{ n: number }>(
        `SELECT count(*)::int AS n FROM siem.incident_activity WHERE incident_id = $1 AND changes ? 'bookmarkDetached'`,
        [target],
      );
      expect(n).toBe(1);
    });
  });
});
