import { readFileSync } from "node:fs";
import path from "node:path";
import { buildSchema } from "graphql";
import { Client } from "pg";
import { createLogger, Role } from "../subgraphs/common/src";
import { seedDemoIfEmpty } from "../scripts/lib/seed-demo";
import { SIGMA_SEMANTICS } from "./fixtures/siem/sigma-rules";
import { sendOperation, startTestPlatform, type Answer, type TestPlatform } from "./utils/platform";
import { startTaxiiServer, stixIndicator, type TaxiiServer } from "./utils/taxii-server";

/**
 * A concurrency sweep over every Mutation field of the composed API: each field's valid call, aimed at the
 * tenant's real (seeded) objects so it does real work, is fired K times at once through the gateway. A race in
 * a read-then-write, a unique violation, a deadlock or a serialization failure must not surface as HTTP 5xx or
 * INTERNAL_SERVER_ERROR: concurrent identical calls all succeed, or one wins and the others get a typed refusal
 * (CONFLICT for a stale etag or a taken name, NOT_FOUND for what another call just deleted, BAD_USER_INPUT for a
 * state another call just left). Afterwards the business keys the upserts promise are unique hold one row each,
 * and pairs of conflicting mutations on one object end in a state some serial order explains.
 */

const TENANT = "tenant-race";
const K = 6;
const ROLES = [Role.READER, Role.ANALYST, Role.RESPONDER, Role.ADMIN, Role.INGESTOR];
/** The typed refusals a losing concurrent call may get. */
const REFUSALS = ["CONFLICT", "NOT_FOUND", "BAD_USER_INPUT"];
const FIXTURES = path.join(__dirname, "fixtures");
/** How long one call may take before it counts as hung (they take well under a second). */
const HANG_MS = 15_000;

/** What one call answered: the HTTP status, the data and the errors' codes and messages. */
/** One mutation's concurrent call: the operation and its variables (made fresh per field by `vars`). */
interface Spec {
  query: string;
  vars?: () => Promise<Record<string, unknown>> | Record<string, unknown>;
  /** The API promises a unique outcome: exactly one of the K calls succeeds. */
  once?: boolean;
  /** Sent by a second responder (a JIT request's decision must not be its requester's). */
  byApprover?: boolean;
}

describe("race sweep: every mutation fired concurrently", () => {
  let platform: TestPlatform;
  let taxii: TaxiiServer;
  let token: string;
  /** Another responder of the tenant: decides the JIT requests `token` makes. */
  let approver: string;
  let db: Client;
  const ids: Record<string, string> = {};
  /** The recommended (not yet approved) allow-list rules of `ids.group`. */
  let recommendedRules: string[] = [];

  /** Sends one operation through the gateway; a body that is not JSON (a crash) becomes an Answer too. */
  const send = (query: string, variables: Record<string, unknown> = {}, as = token): Promise<Answer> =>
    sendOperation(platform.gateway.url, as, query, variables);

  /** Sends an operation that must succeed, returning its data. */
  async function must<T = Record<string, unknown>>(
    query: string,
    variables: Record<string, unknown> = {},
    as = token,
  ) {
    const answer = await send(query, variables, as);
    if (answer.errors.length || !answer.data) throw new Error(`${query}: ${JSON.stringify(answer.errors)}`);
    return answer.data as T;
  }

  /**
   * Fires `query` K times at once. A call without an answer in HANG_MS counts as HUNG (a deadlock the database
   * cannot see, such as requests each holding a pooled connection and waiting for another), named in the report
   * instead of timing the whole sweep out.
   */
  const burst = (query: string, variables: Record<string, unknown>, as = token) =>
    Promise.all(
      Array.from({ length: K }, () =>
        Promise.race([
          send(query, variables, as),
          new Promise<Answer>((resolve) =>
            setTimeout(
              () => resolve({ status: 0, errors: [{ code: "HUNG", message: `no answer in ${HANG_MS} ms` }] }),
              HANG_MS,
            ).unref(),
          ),
        ]),
      ),
    );

  /** What is wrong with an answer: a 5xx, an internal error, an error without a code. */
  const broken = (a: Answer) =>
    a.status >= 500 ||
    a.errors.some((e) => ["INTERNAL_SERVER_ERROR", "undefined", "NOT_JSON", "HUNG"].includes(e.code));

  const count = async (db: Client, sql: string, params: unknown[] = []) =>
    Number((await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${sql}`, params)).rows[0].n);

  /** Numbers the factories' names, which must be unique (feeds, playbooks). */
  let serial = 0;
  /* Small factories of fresh objects, for the mutations that consume theirs (delete, decide, close…). */
  const newJitRequest = async () =>
    (
      await must<{ requestJitAccess: { id: string } }>(
        `mutation($r: ID!) { requestJitAccess(input: { resourceId: $r, ports: [22], sourceIp: "10.1.2.3", duration: "PT1H", justification: "race" }) { id } }`,
        { r: ids.jump },
      )
    ).requestJitAccess.id;
  const newIncident = async (title = "Race") =>
    (
      await must<{ createIncident: { id: string; etag: string } }>(
        `mutation($t: String!) { createIncident(input: { title: $t, severity: LOW }) { id etag } }`,
        { t: title },
      )
    ).createIncident;
  const newPolicyDefinition = async () =>
    (
      await must<{ createPolicyDefinition: { id: string } }>(
        `mutation($i: PolicyDefinitionInput!) { createPolicyDefinition(input: $i) { id } }`,
        { i: POLICY },
      )
    ).createPolicyDefinition.id;
  const POLICY = {
    title: "Race: VMs are tagged",
    description: "d",
    severity: "LOW",
    controlId: "enable-mfa",
    resourceTypes: ["Microsoft.Compute/virtualMachines"],
    condition: { field: "tags.environment", exists: true },
    remediation: ["Tag it."],
    threats: [],
  };
  const JIT_PORTS = [
    { number: 22, protocol: "TCP", allowedSourcePrefixes: ["10.0.0.0/8"], maxDuration: "PT3H" },
  ];
  const RULE = {
    kind: "NRT",
    displayName: "Race rule",
    description: "d",
    severity: "LOW",
    filter: { field: "class_uid", op: "eq", value: 4001 },
  };
  const BOOKMARK = {
    name: "Race",
    query: "Events | take 3",
    queryStartTime: "2026-01-01T00:00:00Z",
    queryEndTime: "2026-01-02T00:00:00Z",
    rows: [{ host: "vm-jump-01" }],
  };
  const newBookmark = async () =>
    (
      await must<{ createBookmark: { id: string } }>(
        `mutation($i: CreateBookmarkInput!) { createBookmark(input: $i) { id } }`,
        { i: BOOKMARK },
      )
    ).createBookmark.id;
  const newPlaybook = async () =>
    (
      await must<{ createPlaybook: { id: string } }>(
        `mutation($n: String!) { createPlaybook(input: { name: $n, url: "http://127.0.0.1:9/race", secret: "race-secret-0123456789abcdef01234", maxAttempts: 1 }) { id } }`,
        { n: `Race ${++serial}` },
      )
    ).createPlaybook.id;
  const newFeed = async (enabled = false) =>
    (
      await must<{ createThreatIntelFeed: { id: string } }>(
        `mutation($i: CreateThreatIntelFeedInput!) { createThreatIntelFeed(input: $i) { id } }`,
        { i: { name: `Race ${++serial}`, apiRoot: taxii.apiRoot, collectionId: "main", enabled } },
      )
    ).createThreatIntelFeed.id;
  const newWatchlist = async (alias: string) =>
    (
      await must<{ createWatchlist: { watchlist: { id: string } } }>(
        `mutation($a: String!) { createWatchlist(input: { alias: $a, name: "Race", searchKey: "ip", csv: "ip,label\\n203.0.113.7,x\\n203.0.113.8,y" }) { watchlist { id } } }`,
        { a: alias },
      )
    ).createWatchlist.watchlist.id;
  const newHuntingQuery = async () =>
    (
      await must<{ createHuntingQuery: { id: string } }>(
        `mutation { createHuntingQuery(input: { name: "Race", query: "Events | take 3" }) { id } }`,
      )
    ).createHuntingQuery.id;
  const newAutomationRule = async () =>
    (
      await must<{ createAutomationRule: { id: string } }>(
        `mutation { createAutomationRule(input: { name: "Race", order: 50, trigger: INCIDENT_CREATED, actions: [{ type: ADD_LABELS, labels: ["race"] }], enabled: false }) { id } }`,
      )
    ).createAutomationRule.id;
  const newAnalyticsRule = async () =>
    (
      await must<{ createAnalyticsRule: { id: string } }>(
        `mutation($i: AnalyticsRuleInput) { createAnalyticsRule(input: $i) { id } }`,
        { i: RULE },
      )
    ).createAnalyticsRule.id;
  const incidentEtag = async (id: string) =>
    (await must<{ incident: { etag: string } }>(`query($id: ID!) { incident(id: $id) { etag } }`, { id }))
      .incident.etag;

  /** Every Mutation field's concurrent call. */
  const SPECS: Record<string, Spec> = {
    upsertAssessments: {
      query: `mutation($i: [ExternalAssessmentInput!]!) { upsertAssessments(input: $i) { __typename } }`,
      vars: () => ({
        i: [
          {
            resourceId: ids.web,
            definitionKey: "race-external",
            title: "Race",
            severity: "HIGH",
            controlId: "enable-mfa",
            status: "UNHEALTHY",
          },
        ],
      }),
    },
    createExemption: {
      query: `mutation($i: CreateExemptionInput!) { createExemption(input: $i) { id } }`,
      vars: () => ({
        i: { definitionId: ids.definition, resourceId: ids.web, category: "MITIGATED", reason: "race" },
      }),
    },
    deleteExemption: {
      query: `mutation($id: ID!) { deleteExemption(id: $id) { id } }`,
      vars: async () => ({
        id: (
          await must<{ createExemption: { id: string } }>(
            `mutation($i: CreateExemptionInput!) { createExemption(input: $i) { id } }`,
            { i: { definitionId: ids.definition, resourceId: ids.app, category: "WAIVER", reason: "race" } },
          )
        ).createExemption.id,
      }),
    },
    upsertResources: {
      query: `mutation($i: [ResourceInput!]!) { upsertResources(input: $i) { ids createdCount } }`,
      vars: () => ({
        i: [
          {
            accountId: ids.azure,
            externalId: "/subscriptions/race/vm-race-01",
            type: "Microsoft.Compute/virtualMachines",
            name: "vm-race-01",
            tags: { environment: "race" },
          },
        ],
      }),
    },
    removeResources: {
      query: `mutation($ids: [ID!]!) { removeResources(ids: $ids) { __typename } }`,
      vars: async () => ({
        ids: (
          await must<{ upsertResources: { ids: string[] } }>(
            `mutation($i: [ResourceInput!]!) { upsertResources(input: $i) { ids } }`,
            {
              i: [
                {
                  accountId: ids.azure,
                  externalId: "/subscriptions/race/vm-race-gone",
                  type: "Microsoft.Compute/virtualMachines",
                  name: "vm-race-gone",
                },
              ],
            },
          )
        ).upsertResources.ids,
      }),
    },
    upsertCloudAccounts: {
      query: `mutation { upsertCloudAccounts(input: [{ provider: AZURE, externalId: "race-subscription", name: "Race" }]) { id } }`,
    },
    removeCloudAccount: {
      // An account of its own with a resource: one call removes both, the others find no account.
      query: `mutation($id: ID!) { removeCloudAccount(id: $id) { accountId removedResourceCount } }`,
      once: true,
      vars: async () => {
        const [account] = (
          await must<{ upsertCloudAccounts: Array<{ id: string }> }>(
            `mutation { upsertCloudAccounts(input: [{ provider: AWS, externalId: "race-offboarded", name: "Gone" }]) { id } }`,
          )
        ).upsertCloudAccounts;
        await must(`mutation($i: [ResourceInput!]!) { upsertResources(input: $i) { ids } }`, {
          i: [
            {
              accountId: account.id,
              externalId: "arn:aws:s3:::race-offboarded",
              type: "AWS::S3::Bucket",
              name: "gone",
            },
          ],
        });
        return { id: account.id };
      },
    },
    createPolicyDefinition: {
      query: `mutation($i: PolicyDefinitionInput!) { createPolicyDefinition(input: $i) { id } }`,
      vars: () => ({ i: POLICY }),
    },
    updatePolicyDefinition: {
      query: `mutation($id: ID!, $i: PolicyDefinitionInput!) { updatePolicyDefinition(id: $id, input: $i) { id } }`,
      vars: async () => ({ id: await newPolicyDefinition(), i: { ...POLICY, title: "Race: renamed" } }),
    },
    deletePolicyDefinition: {
      query: `mutation($id: ID!) { deletePolicyDefinition(id: $id) { id } }`,
      vars: async () => ({ id: await newPolicyDefinition() }),
    },
    setPolicyDefinitionEnabled: {
      query: `mutation($d: ID!, $a: ID!) { setPolicyDefinitionEnabled(input: { definitionId: $d, accountId: $a, enabled: false }) { __typename } }`,
      vars: () => ({ d: ids.definition, a: ids.aws }),
    },
    setPlan: {
      query: `mutation($a: ID!) { setPlan(input: { accountId: $a, planType: STORAGE, tier: STANDARD }) { tier } }`,
      vars: () => ({ a: ids.aws }),
    },
    importAdvisories: {
      query: `mutation($osv: [JSON!]!) { importAdvisories(osv: $osv) { __typename } }`,
      vars: () => ({
        osv: [JSON.parse(readFileSync(path.join(FIXTURES, "protection", "osv", "DSA-9101-1.json"), "utf8"))],
      }),
    },
    ingestPackageInventory: {
      query: `mutation($r: [JSON!]!) { ingestPackageInventory(records: $r) { __typename } }`,
      vars: () => ({
        r: [
          {
            kind: "packages",
            id: "race-packages-vm-app",
            resourceId: ids.app,
            host: "vm-app",
            time: new Date().toISOString(),
            os: { family: "debian", version: "12.4" },
            packages: [
              { ecosystem: "Debian", name: "openssl", version: "3.0.11-1~deb12u1" },
              { ecosystem: "npm", name: "lodash", version: "4.17.20" },
            ],
          },
        ],
      }),
    },
    setJitPolicy: {
      query: `mutation($r: ID!, $p: [JitPortInput!]!) { setJitPolicy(input: { resourceId: $r, ports: $p }) { id } }`,
      vars: () => ({ r: ids.web, p: JIT_PORTS }),
    },
    removeJitPolicy: {
      query: `mutation($r: ID!) { removeJitPolicy(input: { resourceId: $r }) { __typename } }`,
      vars: async () => {
        await must(
          `mutation($r: ID!, $p: [JitPortInput!]!) { setJitPolicy(input: { resourceId: $r, ports: $p }) { id } }`,
          {
            r: ids.app,
            p: JIT_PORTS,
          },
        );
        return { r: ids.app };
      },
    },
    requestJitAccess: {
      query: `mutation($r: ID!) { requestJitAccess(input: { resourceId: $r, ports: [22], sourceIp: "10.1.2.4", duration: "PT1H", justification: "race" }) { id } }`,
      vars: () => ({ r: ids.jump }),
    },
    approveJitRequest: {
      query: `mutation($id: ID!) { approveJitRequest(input: { id: $id }) { id status } }`,
      vars: async () => ({ id: await newJitRequest() }),
      byApprover: true,
    },
    denyJitRequest: {
      query: `mutation($id: ID!) { denyJitRequest(input: { id: $id, reason: "race" }) { id status } }`,
      vars: async () => ({ id: await newJitRequest() }),
      byApprover: true,
    },
    revokeJitRequest: {
      query: `mutation($id: ID!) { revokeJitRequest(input: { id: $id, reason: "race" }) { id status } }`,
      vars: async () => {
        const id = await newJitRequest();
        await must(`mutation($id: ID!) { approveJitRequest(input: { id: $id }) { id } }`, { id }, approver);
        return { id };
      },
      byApprover: true,
    },
    ingestTelemetry: {
      query: `mutation($r: [JSON!]!) { ingestTelemetry(records: $r) { __typename } }`,
      vars: () => ({
        r: [
          {
            kind: "process",
            id: "race-process-1",
            resourceId: ids.web,
            host: "vm-web-prod-01",
            time: new Date(Date.now() - 60_000).toISOString(),
            pid: 4242,
            parentPid: 1,
            image: "/usr/bin/race",
            commandLine: "/usr/bin/race --once",
            user: "root",
            parentImage: "/usr/lib/systemd/systemd",
          },
        ],
      }),
    },
    learnAppControl: { query: `mutation { learnAppControl { groups { id } } }` },
    approveAppControlRules: {
      query: `mutation($g: ID!, $r: [ID!]!) { approveAppControlRules(input: { groupId: $g, ruleIds: $r }) { id } }`,
      vars: () => ({ g: ids.group, r: recommendedRules.slice(0, 2) }),
    },
    revokeAppControlRules: {
      query: `mutation($g: ID!, $r: [ID!]!) { revokeAppControlRules(input: { groupId: $g, ruleIds: $r, reason: "race" }) { id } }`,
      vars: () => ({ g: ids.group, r: recommendedRules.slice(0, 2) }),
    },
    addAppControlRule: {
      query: `mutation($g: ID!) { addAppControlRule(input: { groupId: $g, kind: PATH, path: "/opt/race/bin/tool" }) { id } }`,
      vars: () => ({ g: ids.group }),
    },
    setAppControlMode: {
      query: `mutation($g: ID!) { setAppControlMode(input: { groupId: $g, mode: AUDIT }) { id } }`,
      vars: () => ({ g: ids.group }),
    },
    setFimWatchedPaths: {
      query: `mutation($g: ID!) { setFimWatchedPaths(input: { groupId: $g, paths: [{ path: "/etc/race", recursive: true }] }) { __typename } }`,
      vars: () => ({ g: ids.group }),
    },
    resetFimWatchedPaths: {
      query: `mutation($g: ID!) { resetFimWatchedPaths(input: { groupId: $g }) { __typename } }`,
      vars: () => ({ g: ids.group }),
    },
    setAgentCredentialPolicy: {
      query: `mutation { setAgentCredentialPolicy(requireMachineBinding: false) { __typename } }`,
    },
    ingestAlerts: {
      query: `mutation($i: [AlertInput!]!) { ingestAlerts(input: $i) { ids createdCount } }`,
      vars: () => ({
        i: [{ sourceId: "race-alert-1", title: "Race alert", severity: "MEDIUM", resourceId: ids.web }],
      }),
    },
    updateAlerts: {
      query: `mutation($ids: [ID!]!) { updateAlerts(input: { ids: $ids, status: ACTIVE, comment: "race" }) { __typename } }`,
      vars: () => ({ ids: [ids.alert] }),
    },
    setDataConnector: {
      query: `mutation { setDataConnector(input: { kind: OCSF, staleAfter: "P2D" }) { __typename } }`,
    },
    ingestEvents: {
      query: `mutation($r: [JSON!]!) { ingestEvents(connector: OCSF, records: $r) { __typename } }`,
      vars: () => ({
        r: readFileSync(path.join(FIXTURES, "siem", "OCSF.ndjson"), "utf8")
          .split("\n")
          .filter((l) => l.trim())
          .slice(0, 3)
          .map((l) => JSON.parse(l) as unknown),
      }),
    },
    setEventRetention: { query: `mutation { setEventRetention(days: 60) { __typename } }` },
    updateIncident: {
      query: `mutation($id: ID!, $e: String!) { updateIncident(input: { id: $id, etag: $e, title: "Race: renamed" }) { id etag } }`,
      vars: async () => {
        const { id, etag } = await newIncident();
        return { id, e: etag };
      },
      once: true,
    },
    closeIncident: {
      query: `mutation($id: ID!, $e: String!) { closeIncident(input: { id: $id, etag: $e, classification: FALSE_POSITIVE, reason: "race" }) { id } }`,
      vars: async () => {
        const { id, etag } = await newIncident();
        return { id, e: etag };
      },
      once: true,
    },
    reopenIncident: {
      query: `mutation($id: ID!, $e: String!) { reopenIncident(input: { id: $id, etag: $e }) { id } }`,
      vars: async () => {
        const { id, etag } = await newIncident();
        const closed = await must<{ closeIncident: { etag: string } }>(
          `mutation($id: ID!, $e: String!) { closeIncident(input: { id: $id, etag: $e, classification: FALSE_POSITIVE, reason: "race" }) { etag } }`,
          { id, e: etag },
        );
        return { id, e: closed.closeIncident.etag };
      },
      once: true,
    },
    addIncidentComment: {
      query: `mutation($id: ID!) { addIncidentComment(incidentId: $id, message: "race") { id } }`,
      vars: () => ({ id: ids.incident }),
    },
    addIncidentTask: {
      query: `mutation($id: ID!) { addIncidentTask(incidentId: $id, title: "race") { id } }`,
      vars: () => ({ id: ids.incident }),
    },
    completeIncidentTask: {
      query: `mutation($id: ID!) { completeIncidentTask(id: $id) { id } }`,
      vars: async () => ({
        id: (
          await must<{ addIncidentTask: { id: string } }>(
            `mutation($id: ID!) { addIncidentTask(incidentId: $id, title: "race to complete") { id } }`,
            { id: ids.incident },
          )
        ).addIncidentTask.id,
      }),
    },
    mergeIncidents: {
      query: `mutation($t: ID!, $s: [ID!]!) { mergeIncidents(input: { targetId: $t, sourceIds: $s }) { id } }`,
      vars: async () => ({
        t: (await newIncident("Race target")).id,
        s: [(await newIncident("Race source")).id],
      }),
    },
    createIncident: {
      query: `mutation { createIncident(input: { title: "Race created", severity: LOW }) { id number } }`,
    },
    importStixBundle: {
      query: `mutation($b: JSON!) { importStixBundle(bundle: $b) { __typename } }`,
      vars: () => ({
        b: {
          type: "bundle",
          id: "bundle--5d1c0c5e-0f55-4b8e-9a59-1c2f6b7e1a99",
          objects: [stixIndicator("[ipv4-addr:value = '198.51.100.77']")],
        },
      }),
    },
    revokeThreatIndicator: {
      query: `mutation($id: ID!) { revokeThreatIndicator(id: $id) { id revoked } }`,
      vars: async () => {
        const indicator = stixIndicator("[domain-name:value = 'race-revoked.example']");
        await must(`mutation($b: JSON!) { importStixBundle(bundle: $b) { createdCount } }`, {
          b: { type: "bundle", id: "bundle--7e2d1c5e-0f55-4b8e-9a59-1c2f6b7e1a99", objects: [indicator] },
        });
        const { threatIndicators } = await must<{
          threatIndicators: { nodes: Array<{ id: string; stixId: string }> };
        }>(`query { threatIndicators(first: 100) { nodes { id stixId } } }`);
        return { id: threatIndicators.nodes.find((n) => n.stixId === indicator.id)!.id };
      },
    },
    createThreatIntelFeed: {
      query: `mutation($i: CreateThreatIntelFeedInput!) { createThreatIntelFeed(input: $i) { id } }`,
      vars: () => ({
        i: { name: "Race created", apiRoot: taxii.apiRoot, collectionId: "main", enabled: false },
      }),
      once: true,
    },
    updateThreatIntelFeed: {
      query: `mutation($id: ID!) { updateThreatIntelFeed(input: { id: $id, name: "Race renamed" }) { id } }`,
      vars: async () => ({ id: await newFeed() }),
    },
    deleteThreatIntelFeed: {
      query: `mutation($id: ID!) { deleteThreatIntelFeed(input: { id: $id, revokeIndicators: true }) { id } }`,
      vars: async () => ({ id: await newFeed() }),
    },
    pollThreatIntelFeed: {
      query: `mutation($id: ID!) { pollThreatIntelFeed(id: $id) { __typename } }`,
      vars: async () => ({ id: await newFeed(true) }),
    },
    createAnalyticsRule: {
      query: `mutation($i: AnalyticsRuleInput) { createAnalyticsRule(input: $i) { id } }`,
      vars: () => ({ i: RULE }),
    },
    importSigmaRules: {
      query: `mutation($y: String!) { importSigmaRules(yaml: $y) { __typename } }`,
      vars: () => ({ y: SIGMA_SEMANTICS[0].yaml }),
    },
    updateAnalyticsRule: {
      query: `mutation($id: ID!, $i: AnalyticsRuleInput) { updateAnalyticsRule(id: $id, input: $i) { id } }`,
      vars: async () => ({ id: await newAnalyticsRule(), i: { ...RULE, displayName: "Race renamed" } }),
    },
    deleteAnalyticsRule: {
      query: `mutation($id: ID!) { deleteAnalyticsRule(id: $id) { id } }`,
      vars: async () => ({ id: await newAnalyticsRule() }),
    },
    createAutomationRule: {
      query: `mutation { createAutomationRule(input: { name: "Race created", order: 60, trigger: INCIDENT_CREATED, actions: [{ type: ADD_LABELS, labels: ["race"] }], enabled: false }) { id } }`,
    },
    updateAutomationRule: {
      query: `mutation($id: ID!) { updateAutomationRule(input: { id: $id, name: "Race renamed" }) { id } }`,
      vars: async () => ({ id: await newAutomationRule() }),
    },
    deleteAutomationRule: {
      query: `mutation($id: ID!) { deleteAutomationRule(id: $id) { id } }`,
      vars: async () => ({ id: await newAutomationRule() }),
    },
    createPlaybook: {
      query: `mutation { createPlaybook(input: { name: "Race created", url: "http://127.0.0.1:9/race", secret: "race-secret-0123456789abcdef01234" }) { id } }`,
      once: true,
    },
    updatePlaybook: {
      query: `mutation($id: ID!) { updatePlaybook(input: { id: $id, name: "Race renamed" }) { id } }`,
      vars: async () => ({ id: await newPlaybook() }),
    },
    deletePlaybook: {
      query: `mutation($id: ID!) { deletePlaybook(id: $id) { id } }`,
      vars: async () => ({ id: await newPlaybook() }),
    },
    runPlaybook: {
      query: `mutation($p: ID!, $i: ID!) { runPlaybook(input: { playbookId: $p, incidentId: $i }) { id } }`,
      vars: async () => ({ p: await newPlaybook(), i: ids.incident }),
    },
    createHuntingQuery: {
      query: `mutation { createHuntingQuery(input: { name: "Race created", query: "Events | take 3" }) { id } }`,
    },
    updateHuntingQuery: {
      query: `mutation($id: ID!) { updateHuntingQuery(input: { id: $id, name: "Race renamed" }) { id } }`,
      vars: async () => ({ id: await newHuntingQuery() }),
    },
    deleteHuntingQuery: {
      query: `mutation($id: ID!) { deleteHuntingQuery(id: $id) { id } }`,
      vars: async () => ({ id: await newHuntingQuery() }),
    },
    runSavedHunt: {
      query: `mutation($id: ID!) { runSavedHunt(id: $id) { __typename } }`,
      vars: async () => ({ id: await newHuntingQuery() }),
    },
    createBookmark: {
      query: `mutation($i: CreateBookmarkInput!) { createBookmark(input: $i) { id } }`,
      vars: () => ({ i: BOOKMARK }),
    },
    updateBookmark: {
      query: `mutation($id: ID!) { updateBookmark(input: { id: $id, notes: "race" }) { id } }`,
      vars: async () => ({ id: await newBookmark() }),
    },
    deleteBookmark: {
      query: `mutation($id: ID!) { deleteBookmark(id: $id) { id } }`,
      vars: async () => ({ id: await newBookmark() }),
    },
    attachBookmarkToIncident: {
      query: `mutation($b: ID!, $i: ID!) { attachBookmarkToIncident(input: { bookmarkId: $b, incidentId: $i }) { id } }`,
      vars: async () => ({ b: await newBookmark(), i: ids.incident }),
    },
    detachBookmarkFromIncident: {
      query: `mutation($b: ID!, $i: ID!) { detachBookmarkFromIncident(input: { bookmarkId: $b, incidentId: $i }) { id } }`,
      vars: async () => {
        const b = await newBookmark();
        await must(
          `mutation($b: ID!, $i: ID!) { attachBookmarkToIncident(input: { bookmarkId: $b, incidentId: $i }) { id } }`,
          { b, i: ids.incident },
        );
        return { b, i: ids.incident };
      },
    },
    createWatchlist: {
      query: `mutation { createWatchlist(input: { alias: "race_created", name: "Race", searchKey: "ip", csv: "ip,label\\n203.0.113.9,x" }) { watchlist { id } } }`,
      once: true,
    },
    addWatchlistItems: {
      query: `mutation($id: ID!) { addWatchlistItems(input: { watchlistId: $id, csv: "ip,label\\n203.0.113.10,z" }) { __typename } }`,
      vars: async () => ({ id: await newWatchlist("race_add") }),
    },
    removeWatchlistItems: {
      query: `mutation($id: ID!) { removeWatchlistItems(input: { watchlistId: $id, searchKeys: ["203.0.113.7"] }) { __typename } }`,
      vars: async () => ({ id: await newWatchlist("race_remove") }),
    },
    deleteWatchlist: {
      query: `mutation($id: ID!) { deleteWatchlist(id: $id) { id } }`,
      vars: async () => ({ id: await newWatchlist("race_delete") }),
    },
  };

  /** What every burst answered, by field. */
  const answers = new Map<string, Answer[]>();

  beforeAll(async () => {
    taxii = await startTaxiiServer();
    taxii.add("main", stixIndicator("[ipv4-addr:value = '198.51.100.88']"));
    platform = await startTestPlatform({ INTEL_FEED_ALLOW_PRIVATE_TARGETS: "true" });
    token = await platform.token(ROLES, TENANT);
    approver = await platform.token(ROLES, TENANT, "approver@example.com");
    await seedDemoIfEmpty(
      { ...platform.config, demoTenantId: TENANT },
      platform.gateway.url,
      createLogger("test", "silent"),
    );
    const seeded = await must<{
      resources: { nodes: Array<{ id: string; name: string }> };
      accounts: { nodes: Array<{ id: string; provider: string }> };
      incidents: { nodes: Array<{ id: string }> };
      alerts: { nodes: Array<{ id: string }> };
      policyDefinitions: { nodes: Array<{ id: string }> };
      appControlGroups: {
        nodes: Array<{ id: string; rules: { nodes: Array<{ id: string; status: string }> } }>;
      };
    }>(
      `{ resources(first: 100, filter: { search: "vm-" }) { nodes { id name } } accounts(first: 10) { nodes { id provider } }
         incidents(first: 1) { nodes { id } } alerts(first: 1) { nodes { id } } policyDefinitions(first: 1) { nodes { id } }
         appControlGroups(first: 10) { nodes { id rules(first: 50) { nodes { id status } } } } }`,
    );
    const vm = (name: string) => seeded.resources.nodes.find((r) => r.name.startsWith(name))!.id;
    Object.assign(ids, {
      jump: vm("vm-jump"),
      web: vm("vm-web-prod"),
      app: vm("vm-app-prod"),
      azure: seeded.accounts.nodes.find((a) => a.provider === "AZURE")!.id,
      aws: seeded.accounts.nodes.find((a) => a.provider === "AWS")!.id,
      incident: seeded.incidents.nodes[0].id,
      alert: seeded.alerts.nodes[0].id,
      definition: seeded.policyDefinitions.nodes[0].id,
    });
    const group = seeded.appControlGroups.nodes.find((g) =>
      g.rules.nodes.some((r) => r.status === "RECOMMENDED"),
    )!;
    ids.group = group.id;
    recommendedRules = group.rules.nodes.filter((r) => r.status === "RECOMMENDED").map((r) => r.id);
    db = new Client({ connectionString: platform.db.url });
    await db.connect();

    // The sweep proper: one field at a time, its K calls at once.
    for (const [field, spec] of Object.entries(SPECS)) {
      const variables = (await spec.vars?.()) ?? {};
      answers.set(field, await burst(spec.query, variables, spec.byApprover ? approver : token));
    }
  }, 170_000);
  afterAll(async () => {
    await db?.end();
    await platform?.stop();
    await taxii?.close();
  });

  it("covers every Mutation field of the API", () => {
    const schema = buildSchema(readFileSync(`${__dirname}/../gateway/schema.graphql`, "utf8"));
    expect(Object.keys(SPECS).sort()).toEqual(Object.keys(schema.getMutationType()!.getFields()).sort());
  });

  it("answers K concurrent identical calls of every mutation without a 5xx or an internal error", () => {
    const offenders = [...answers].flatMap(([field, list]) =>
      list.filter(broken).map((a) => `${field}: HTTP ${a.status} ${JSON.stringify(a.errors).slice(0, 300)}`),
    );
    expect(offenders).toEqual([]);
  });

  it("lets at least one of the K calls do its work, and refuses the others only with a typed refusal", () => {
    const wrong = [...answers].flatMap(([field, list]) => {
      const won = list.filter((a) => a.errors.length === 0 && a.data?.[field] != null).length;
      const codes = [...new Set(list.flatMap((a) => a.errors.map((e) => e.code)))];
      const bad = codes.filter((c) => !REFUSALS.includes(c));
      const problems: string[] = [];
      if (won === 0) problems.push(`none succeeded (${JSON.stringify(list[0].errors).slice(0, 200)})`);
      if (bad.length) problems.push(`unexpected codes ${bad.join()}`);
      if (SPECS[field].once && won !== 1) problems.push(`${won} succeeded, one expected`);
      return problems.length ? [`${field}: ${problems.join("; ")}`] : [];
    });
    expect(wrong).toEqual([]);
  });

  /** The data of the calls of `field` that succeeded. */
  const wins = <T>(field: string) =>
    (answers.get(field) ?? []).flatMap((a) =>
      a.errors.length === 0 && a.data?.[field] != null ? [a.data[field] as T] : [],
    );

  it("keeps business keys unique and counters whole after the concurrent calls", async () => {
    // Identical upserts: one object, created once, whoever got there first.
    const upserts = wins<{ ids: string[]; createdCount: number }>("upsertResources");
    expect(new Set(upserts.map((u) => u.ids[0])).size).toBe(1);
    expect(upserts.reduce((n, u) => n + u.createdCount, 0)).toBe(1);
    expect(new Set(wins<Array<{ id: string }>>("upsertCloudAccounts").map((a) => a[0].id)).size).toBe(1);
    const alerts = wins<{ ids: string[]; createdCount: number }>("ingestAlerts");
    expect(new Set(alerts.map((a) => a.ids[0])).size).toBe(1);
    expect(alerts.reduce((n, a) => n + a.createdCount, 0)).toBe(1);
    expect(await count(db, `siem.alerts WHERE tenant_id = $1 AND source_id = 'race-alert-1'`, [TENANT])).toBe(
      1,
    );
    // K revocations of one indicator: one revoked it (one audit record), the others found it revoked.
    expect(wins<{ revoked: boolean }>("revokeThreatIndicator").every((r) => r.revoked)).toBe(true);
    expect(
      await count(db, `siem.audit_log WHERE tenant_id = $1 AND action = 'intel.indicator.revoke'`, [TENANT]),
    ).toBe(1);
    // Concurrent creates without a unique name: K objects, each with its own number.
    const created = wins<{ id: string; number: number }>("createIncident");
    expect(created).toHaveLength(K);
    expect(new Set(created.map((c) => c.number)).size).toBe(K);
    // Appends are not lost: K comments and K tasks on the incident.
    const { incident } = await must<{
      incident: { comments: Array<{ message: string }>; tasks: Array<{ title: string }> };
    }>(`query($id: ID!) { incident(id: $id) { comments { message } tasks { title } } }`, {
      id: ids.incident,
    });
    expect(incident.comments.filter((c) => c.message === "race")).toHaveLength(K);
    expect(incident.tasks.filter((t) => t.title === "race")).toHaveLength(K);
    // The one update that won is the incident's current version.
    const [updated] = wins<{ id: string; etag: string }>("updateIncident");
    expect(await incidentEtag(updated.id)).toBe(updated.etag);
    // One committed change each, so one activity entry and one outbox event each, not one per call.
    for (const [field, action] of [
      ["updateIncident", "updated"],
      ["closeIncident", "closed"],
      ["reopenIncident", "reopened"],
    ]) {
      const [{ id }] = wins<{ id: string }>(field);
      const args = [TENANT, id, action];
      expect([
        await count(
          db,
          `siem.incident_activity WHERE tenant_id = $1 AND incident_id = $2 AND action = $3`,
          args,
        ),
        await count(db, `siem.outbox WHERE tenant_id = $1 AND key = $2 AND topic = 'incident.' || $3`, args),
      ]).toEqual([1, 1]);
    }
  });

  it("settles pairs of conflicting mutations on one object in an order one of them explains", async () => {
    const problems: string[] = [];
    const pair = async (
      name: string,
      a: [string, Record<string, unknown>],
      b: [string, Record<string, unknown>],
      as = token,
    ) => {
      const answers = await Promise.all([send(a[0], a[1], as), send(b[0], b[1], as)]);
      for (const x of answers.filter(broken))
        problems.push(`${name}: HTTP ${x.status} ${JSON.stringify(x.errors)}`);
      for (const x of answers)
        for (const e of x.errors)
          if (!REFUSALS.includes(e.code)) problems.push(`${name}: unexpected ${e.code} ${e.message}`);
      return answers.map((x) => x.errors.length === 0);
    };

    // close and update with the same etag: exactly one wins, and the incident shows that one.
    const target = await newIncident("Race pair");
    const [closed, renamed] = await pair(
      "closeIncident+updateIncident",
      [
        `mutation($id: ID!, $e: String!) { closeIncident(input: { id: $id, etag: $e, classification: FALSE_POSITIVE, reason: "race" }) { id } }`,
        { id: target.id, e: target.etag },
      ],
      [
        `mutation($id: ID!, $e: String!) { updateIncident(input: { id: $id, etag: $e, title: "Race pair: renamed" }) { id } }`,
        { id: target.id, e: target.etag },
      ],
    );
    expect([closed, renamed].filter(Boolean)).toHaveLength(1);
    const after = (
      await must<{ incident: { status: string; title: string } }>(
        `query($id: ID!) { incident(id: $id) { status title } }`,
        { id: target.id },
      )
    ).incident;
    expect(after).toEqual(
      closed
        ? { status: "CLOSED", title: "Race pair" }
        : { status: expect.not.stringMatching(/^CLOSED$/), title: "Race pair: renamed" },
    );

    // approve and deny one request: one decision, the one stored.
    const request = await newJitRequest();
    const [approved, denied] = await pair(
      "approveJitRequest+denyJitRequest",
      [`mutation($id: ID!) { approveJitRequest(input: { id: $id }) { id } }`, { id: request }],
      [`mutation($id: ID!) { denyJitRequest(input: { id: $id, reason: "race" }) { id } }`, { id: request }],
      approver,
    );
    expect([approved, denied].filter(Boolean)).toHaveLength(1);
    const { jitRequest } = await must<{ jitRequest: { status: string } }>(
      `query($id: ID!) { jitRequest(id: $id) { status } }`,
      { id: request },
    );
    expect(jitRequest.status).toBe(approved ? "APPROVED" : "DENIED");

    // A into B and B into A: one merge, and the other incident is its source.
    const [x, y] = [await newIncident("Race merge x"), await newIncident("Race merge y")];
    const merge = `mutation($t: ID!, $s: [ID!]!) { mergeIncidents(input: { targetId: $t, sourceIds: $s }) { id } }`;
    const [xy, yx] = await pair(
      "mergeIncidents both ways",
      [merge, { t: x.id, s: [y.id] }],
      [merge, { t: y.id, s: [x.id] }],
    );
    expect([xy, yx].filter(Boolean)).toHaveLength(1);
    const statuses = await must<{ x: { status: string }; y: { status: string } }>(
      `query($x: ID!, $y: ID!) { x: incident(id: $x) { status } y: incident(id: $y) { status } }`,
      { x: x.id, y: y.id },
    );
    expect([statuses.x.status === "CLOSED", statuses.y.status === "CLOSED"]).toEqual(
      xy ? [false, true] : [true, false],
    );

    // set and remove one machine's JIT policy: both may succeed; what is left is the last one's doing.
    const [set, removed] = await pair(
      "setJitPolicy+removeJitPolicy",
      [
        `mutation($r: ID!, $p: [JitPortInput!]!) { setJitPolicy(input: { resourceId: $r, ports: $p }) { id } }`,
        { r: ids.web, p: [{ ...JIT_PORTS[0], number: 2222 }] },
      ],
      [`mutation($r: ID!) { removeJitPolicy(input: { resourceId: $r }) { __typename } }`, { r: ids.web }],
    );
    expect(set).toBe(true);
    const rows = await count(db, `protection.jit_policies WHERE tenant_id = $1 AND resource_id = $2`, [
      TENANT,
      ids.web,
    ]);
    // Removed after the set: no policy; before it (or refused, nothing to remove): the new one.
    expect(removed ? [0, 1] : [1]).toContain(rows);

    expect(problems).toEqual([]);
  });
});
