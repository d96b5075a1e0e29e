import { readFileSync } from "node:fs";
import {
  buildSchema,
  getNamedType,
  isObjectType,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from "graphql";
import { SignJWT } from "jose";
import { signDevToken } from "../gateway/src/auth";
import { startGateway, type Gateway } from "../gateway/src/server";
import { createLogger, IDENTITY_HEADER, loadConfig, Role } from "../subgraphs/common/src";
import { eventually, watch, wsClient, type Stream } from "./utils/live";
import { postGraphql, startTestPlatform, type GqlResponse, type TestPlatform } from "./utils/platform";

/**
 * Who may call what, from product.md's role table ("+" adds to the role before: READER ⊂ ANALYST ⊂
 * RESPONDER ⊂ ADMIN; INGESTOR stands apart and reads nothing):
 * - READER: every read (queries, subscriptions);
 * - ANALYST: incident triage (update, close, reopen, comment, tasks, merge, create) and hunting (running
 *   hunts, saved hunting queries, bookmarks);
 * - RESPONDER: JIT requests and their decisions, manual playbook runs;
 * - ADMIN: rules, policies (posture definitions and exemptions, JIT policies, application control,
 *   FIM watch lists), plans, advisories, automation rules and playbooks, watchlists (rules match them),
 *   threat-intelligence (TAXII) feeds, data connectors (enabling them, their staleness); and reading the audit
 *   trail (its details can hold configuration);
 * - INGEST: pushing data — INGESTOR service principals, and ADMIN (who may push by hand);
 * - RECEIPT: what became of data pushed through the ingest queue — every reader, and the tenant's INGESTORs
 *   (an ingest receipt tells them no more than the answer of a synchronous ingest would);
 * - AGENT: what a machine's agent pulls to enforce (`agentPolicy`) — the tenant's INGESTORs (agents push with
 *   them), and every reader (it is made of the JIT policies, application-control groups and FIM lists they read).
 *
 * A machine-bound agent credential (an INGESTOR token with the `rampart:resource` claim) is held to the fields of
 * `MACHINE_BOUND`, which keep it to its own machine; every other field refuses it, whatever its access.
 */
type Access = "READER" | "ANALYST" | "RESPONDER" | "ADMIN" | "INGEST" | "RECEIPT" | "AGENT";

/** The callers of the matrix: every role alone, and a token naming no role at all. */
const CALLERS = ["READER", "ANALYST", "RESPONDER", "ADMIN", "INGESTOR", "NONE"] as const;
type Caller = (typeof CALLERS)[number];

const ALLOWED: Record<Access, readonly Caller[]> = {
  READER: ["READER", "ANALYST", "RESPONDER", "ADMIN"],
  ANALYST: ["ANALYST", "RESPONDER", "ADMIN"],
  RESPONDER: ["RESPONDER", "ADMIN"],
  ADMIN: ["ADMIN"],
  INGEST: ["INGESTOR", "ADMIN"],
  RECEIPT: ["READER", "ANALYST", "RESPONDER", "ADMIN", "INGESTOR"],
  AGENT: ["READER", "ANALYST", "RESPONDER", "ADMIN", "INGESTOR"],
};

/** An id nothing has: calls with it are authorised or refused before they find nothing. */
const X = "0190a0a0-0000-7000-8000-000000000000";
const Y = "0190a0a0-0000-7000-8000-000000000001";
const POLICY = `{ title: "t", description: "d", severity: LOW, controlId: "x", resourceTypes: [], condition: {}, remediation: [], threats: [] }`;

/**
 * One entry per root field of the composed API: the access it needs and a call with arguments that
 * pass GraphQL validation (a dummy id is fine: NOT_FOUND or BAD_USER_INPUT still shows the decision).
 */
const MATRIX: Record<string, { access: Access; call: string }> = {
  "Query.exemptions": { access: "READER", call: `{ exemptions { __typename } }` },
  "Query.complianceStandards": { access: "READER", call: `{ complianceStandards { __typename } }` },
  "Query.resources": { access: "READER", call: `{ resources { __typename } }` },
  "Query.resource": { access: "READER", call: `{ resource(id: "${X}") { __typename } }` },
  "Query.accounts": { access: "READER", call: `{ accounts { __typename } }` },
  "Query.account": { access: "READER", call: `{ account(id: "${X}") { __typename } }` },
  "Query.networkMap": { access: "READER", call: `{ networkMap(minSeverity: HIGH) { __typename } }` },
  "Query.securityControls": { access: "READER", call: `{ securityControls { __typename } }` },
  "Query.policyDefinitions": { access: "READER", call: `{ policyDefinitions { __typename } }` },
  "Query.policyDefinition": { access: "READER", call: `{ policyDefinition(id: "${X}") { __typename } }` },
  "Query.recommendations": { access: "READER", call: `{ recommendations { __typename } }` },
  "Query.secureScore": { access: "READER", call: `{ secureScore { __typename } }` },
  "Query.secureScoreHistory": {
    access: "READER",
    call: `{ secureScoreHistory(from: "2025-01-01T00:00:00Z", to: "2025-01-02T00:00:00Z") { __typename } }`,
  },
  "Query.auditTrail": {
    access: "ADMIN",
    call: `{ auditTrail { posture { totalCount } protection { totalCount } siem { totalCount } } }`,
  },
  "Query.planTypes": { access: "READER", call: `{ planTypes { __typename } }` },
  "Query.vulnerabilityMatching": { access: "READER", call: `{ vulnerabilityMatching { __typename } }` },
  "Query.vulnerabilityFindings": { access: "READER", call: `{ vulnerabilityFindings { __typename } }` },
  "Query.vulnerabilityExposure": {
    access: "READER",
    call: `{ vulnerabilityExposure(cve: "CVE-2024-3094") { __typename } }`,
  },
  "Query.jitRequests": { access: "READER", call: `{ jitRequests { __typename } }` },
  "Query.jitRequest": { access: "READER", call: `{ jitRequest(id: "${X}") { __typename } }` },
  "Query.jitAuditLog": { access: "READER", call: `{ jitAuditLog(resourceId: "${X}") { __typename } }` },
  "Query.detections": { access: "READER", call: `{ detections { __typename } }` },
  "Query.appControlGroups": { access: "READER", call: `{ appControlGroups { __typename } }` },
  "Query.appControlGroup": { access: "READER", call: `{ appControlGroup(id: "${X}") { __typename } }` },
  "Query.fimWatchLists": { access: "READER", call: `{ fimWatchLists { __typename } }` },
  "Query.agentPolicy": { access: "AGENT", call: `{ agentPolicy(resourceId: "${X}") { __typename } }` },
  "Query.agentCredentialPolicy": {
    access: "READER",
    call: `{ agentCredentialPolicy { requireMachineBinding } }`,
  },
  "Query.alerts": { access: "READER", call: `{ alerts { __typename } }` },
  "Query.alert": { access: "READER", call: `{ alert(id: "${X}") { __typename } }` },
  "Query.dataConnectors": { access: "READER", call: `{ dataConnectors { __typename } }` },
  "Query.events": { access: "READER", call: `{ events { __typename } }` },
  "Query.eventRetention": { access: "READER", call: `{ eventRetention { __typename } }` },
  "Query.ingestReceipt": { access: "RECEIPT", call: `{ ingestReceipt(id: "${X}") { __typename } }` },
  "Query.incidents": { access: "READER", call: `{ incidents { __typename } }` },
  "Query.incident": { access: "READER", call: `{ incident(id: "${X}") { __typename } }` },
  "Query.incidentMetrics": {
    access: "READER",
    call: `{ incidentMetrics(from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z") { createdCount } }`,
  },
  "Query.threatIndicators": {
    access: "READER",
    call: `{ threatIndicators(activeOnly: false) { __typename } }`,
  },
  "Query.entity": { access: "READER", call: `{ entity(type: HOST, value: "host-1") { __typename } }` },
  "Query.ruleTemplates": { access: "READER", call: `{ ruleTemplates { __typename } }` },
  "Query.analyticsRules": { access: "READER", call: `{ analyticsRules { __typename } }` },
  "Query.analyticsRule": { access: "READER", call: `{ analyticsRule(id: "${X}") { __typename } }` },
  "Query.automationRules": { access: "READER", call: `{ automationRules { __typename } }` },
  "Query.automationRule": { access: "READER", call: `{ automationRule(id: "${X}") { __typename } }` },
  "Query.automationRuns": { access: "READER", call: `{ automationRuns { __typename } }` },
  "Query.threatIntelFeeds": { access: "READER", call: `{ threatIntelFeeds { __typename } }` },
  "Query.playbooks": { access: "READER", call: `{ playbooks { __typename } }` },
  "Query.playbook": { access: "READER", call: `{ playbook(id: "${X}") { __typename } }` },
  "Query.playbookRuns": { access: "READER", call: `{ playbookRuns { __typename } }` },
  "Query.runHunt": { access: "ANALYST", call: `{ runHunt(query: "Events | take 1") { __typename } }` },
  "Query.huntingQueries": { access: "READER", call: `{ huntingQueries { __typename } }` },
  "Query.huntingQuery": { access: "READER", call: `{ huntingQuery(id: "${X}") { __typename } }` },
  "Query.bookmarks": { access: "READER", call: `{ bookmarks { __typename } }` },
  "Query.bookmark": { access: "READER", call: `{ bookmark(id: "${X}") { __typename } }` },
  "Query.watchlists": { access: "READER", call: `{ watchlists { __typename } }` },
  "Query.watchlist": { access: "READER", call: `{ watchlist(alias: "matrix") { __typename } }` },

  "Mutation.upsertAssessments": {
    access: "INGEST",
    call: `mutation { upsertAssessments(input: []) { __typename } }`,
  },
  "Mutation.createExemption": {
    access: "ADMIN",
    call: `mutation { createExemption(input: { definitionId: "${X}", category: WAIVER, reason: "r" }) { __typename } }`,
  },
  "Mutation.deleteExemption": {
    access: "ADMIN",
    call: `mutation { deleteExemption(id: "${X}") { __typename } }`,
  },
  "Mutation.upsertResources": {
    access: "INGEST",
    call: `mutation { upsertResources(input: []) { __typename } }`,
  },
  "Mutation.removeResources": {
    access: "INGEST",
    call: `mutation { removeResources(ids: []) { __typename } }`,
  },
  "Mutation.upsertCloudAccounts": {
    access: "INGEST",
    call: `mutation { upsertCloudAccounts(input: []) { __typename } }`,
  },
  "Mutation.createPolicyDefinition": {
    access: "ADMIN",
    call: `mutation { createPolicyDefinition(input: ${POLICY}) { __typename } }`,
  },
  "Mutation.updatePolicyDefinition": {
    access: "ADMIN",
    call: `mutation { updatePolicyDefinition(id: "${X}", input: ${POLICY}) { __typename } }`,
  },
  "Mutation.deletePolicyDefinition": {
    access: "ADMIN",
    call: `mutation { deletePolicyDefinition(id: "${X}") { __typename } }`,
  },
  "Mutation.setPolicyDefinitionEnabled": {
    access: "ADMIN",
    call: `mutation { setPolicyDefinitionEnabled(input: { definitionId: "${X}", accountId: "${X}", enabled: true }) { __typename } }`,
  },
  "Mutation.setPlan": {
    access: "ADMIN",
    call: `mutation { setPlan(input: { accountId: "${X}", planType: SERVERS, tier: FREE }) { __typename } }`,
  },
  "Mutation.importAdvisories": {
    access: "INGEST",
    call: `mutation { importAdvisories(osv: []) { __typename } }`,
  },
  "Mutation.ingestPackageInventory": {
    access: "INGEST",
    call: `mutation { ingestPackageInventory(records: []) { __typename } }`,
  },
  "Mutation.setJitPolicy": {
    access: "ADMIN",
    call: `mutation { setJitPolicy(input: { resourceId: "${X}", ports: [] }) { __typename } }`,
  },
  "Mutation.removeJitPolicy": {
    access: "ADMIN",
    call: `mutation { removeJitPolicy(input: { resourceId: "${X}" }) { __typename } }`,
  },
  "Mutation.requestJitAccess": {
    access: "RESPONDER",
    call: `mutation { requestJitAccess(input: { resourceId: "${X}", ports: [22], sourceIp: "10.0.0.1", duration: "PT1H", justification: "j" }) { __typename } }`,
  },
  "Mutation.approveJitRequest": {
    access: "RESPONDER",
    call: `mutation { approveJitRequest(input: { id: "${X}" }) { __typename } }`,
  },
  "Mutation.denyJitRequest": {
    access: "RESPONDER",
    call: `mutation { denyJitRequest(input: { id: "${X}", reason: "r" }) { __typename } }`,
  },
  "Mutation.revokeJitRequest": {
    access: "RESPONDER",
    call: `mutation { revokeJitRequest(input: { id: "${X}", reason: "r" }) { __typename } }`,
  },
  "Mutation.ingestTelemetry": {
    access: "INGEST",
    call: `mutation { ingestTelemetry(records: []) { __typename } }`,
  },
  "Mutation.learnAppControl": { access: "ADMIN", call: `mutation { learnAppControl { __typename } }` },
  "Mutation.approveAppControlRules": {
    access: "ADMIN",
    call: `mutation { approveAppControlRules(input: { groupId: "${X}", ruleIds: [] }) { __typename } }`,
  },
  "Mutation.revokeAppControlRules": {
    access: "ADMIN",
    call: `mutation { revokeAppControlRules(input: { groupId: "${X}", ruleIds: [], reason: "r" }) { __typename } }`,
  },
  "Mutation.addAppControlRule": {
    access: "ADMIN",
    call: `mutation { addAppControlRule(input: { groupId: "${X}", kind: PATH, path: "/x" }) { __typename } }`,
  },
  "Mutation.setAppControlMode": {
    access: "ADMIN",
    call: `mutation { setAppControlMode(input: { groupId: "${X}", mode: AUDIT }) { __typename } }`,
  },
  "Mutation.setFimWatchedPaths": {
    access: "ADMIN",
    call: `mutation { setFimWatchedPaths(input: { groupId: "${X}", paths: [] }) { __typename } }`,
  },
  "Mutation.resetFimWatchedPaths": {
    access: "ADMIN",
    call: `mutation { resetFimWatchedPaths(input: { groupId: "${X}" }) { __typename } }`,
  },
  "Mutation.setAgentCredentialPolicy": {
    access: "ADMIN",
    call: `mutation { setAgentCredentialPolicy(requireMachineBinding: false) { __typename } }`,
  },
  "Mutation.ingestAlerts": { access: "INGEST", call: `mutation { ingestAlerts(input: []) { __typename } }` },
  "Mutation.ingestEvents": {
    access: "INGEST",
    call: `mutation { ingestEvents(connector: SYSLOG_CEF, records: []) { __typename } }`,
  },
  "Mutation.updateAlerts": {
    access: "ANALYST",
    call: `mutation { updateAlerts(input: { ids: ["${X}"], status: ACTIVE }) { __typename } }`,
  },
  "Mutation.updateIncident": {
    access: "ANALYST",
    call: `mutation { updateIncident(input: { id: "${X}", etag: "e" }) { __typename } }`,
  },
  "Mutation.setDataConnector": {
    access: "ADMIN",
    call: `mutation { setDataConnector(input: { kind: OCSF, staleAfter: "P1Y" }) { __typename } }`,
  },
  "Mutation.setEventRetention": {
    access: "ADMIN",
    call: `mutation { setEventRetention(days: 0) { __typename } }`,
  },
  "Mutation.closeIncident": {
    access: "ANALYST",
    call: `mutation { closeIncident(input: { id: "${X}", etag: "e", classification: FALSE_POSITIVE, reason: "r" }) { __typename } }`,
  },
  "Mutation.reopenIncident": {
    access: "ANALYST",
    call: `mutation { reopenIncident(input: { id: "${X}", etag: "e" }) { __typename } }`,
  },
  "Mutation.addIncidentComment": {
    access: "ANALYST",
    call: `mutation { addIncidentComment(incidentId: "${X}", message: "m") { __typename } }`,
  },
  "Mutation.addIncidentTask": {
    access: "ANALYST",
    call: `mutation { addIncidentTask(incidentId: "${X}", title: "t") { __typename } }`,
  },
  "Mutation.completeIncidentTask": {
    access: "ANALYST",
    call: `mutation { completeIncidentTask(id: "${X}") { __typename } }`,
  },
  "Mutation.mergeIncidents": {
    access: "ANALYST",
    call: `mutation { mergeIncidents(input: { targetId: "${X}", sourceIds: ["${Y}"] }) { __typename } }`,
  },
  "Mutation.createIncident": {
    access: "ANALYST",
    call: `mutation { createIncident(input: { title: "t", description: "d", severity: LOW, alertIds: ["${X}"] }) { __typename } }`,
  },
  "Mutation.importStixBundle": {
    access: "INGEST",
    call: `mutation { importStixBundle(bundle: {}) { __typename } }`,
  },
  "Mutation.createThreatIntelFeed": {
    access: "ADMIN",
    call: `mutation { createThreatIntelFeed(input: { name: "", apiRoot: "ftp://x", collectionId: "" }) { __typename } }`,
  },
  "Mutation.updateThreatIntelFeed": {
    access: "ADMIN",
    call: `mutation { updateThreatIntelFeed(input: { id: "${X}" }) { __typename } }`,
  },
  "Mutation.deleteThreatIntelFeed": {
    access: "ADMIN",
    call: `mutation { deleteThreatIntelFeed(input: { id: "${X}" }) { __typename } }`,
  },
  "Mutation.pollThreatIntelFeed": {
    access: "ADMIN",
    call: `mutation { pollThreatIntelFeed(id: "${X}") { __typename } }`,
  },
  "Mutation.createAnalyticsRule": {
    access: "ADMIN",
    call: `mutation { createAnalyticsRule { __typename } }`,
  },
  "Mutation.importSigmaRules": {
    access: "ADMIN",
    call: `mutation { importSigmaRules(yaml: "title: not a whole rule") { __typename } }`,
  },
  "Mutation.updateAnalyticsRule": {
    access: "ADMIN",
    call: `mutation { updateAnalyticsRule(id: "${X}") { __typename } }`,
  },
  "Mutation.deleteAnalyticsRule": {
    access: "ADMIN",
    call: `mutation { deleteAnalyticsRule(id: "${X}") { __typename } }`,
  },
  "Mutation.createAutomationRule": {
    access: "ADMIN",
    call: `mutation { createAutomationRule(input: { name: "", order: 1, trigger: INCIDENT_CREATED, actions: [] }) { __typename } }`,
  },
  "Mutation.updateAutomationRule": {
    access: "ADMIN",
    call: `mutation { updateAutomationRule(input: { id: "${X}" }) { __typename } }`,
  },
  "Mutation.deleteAutomationRule": {
    access: "ADMIN",
    call: `mutation { deleteAutomationRule(id: "${X}") { __typename } }`,
  },
  "Mutation.createPlaybook": {
    access: "ADMIN",
    call: `mutation { createPlaybook(input: { name: "", url: "ftp://x", secret: "" }) { __typename } }`,
  },
  "Mutation.updatePlaybook": {
    access: "ADMIN",
    call: `mutation { updatePlaybook(input: { id: "${X}" }) { __typename } }`,
  },
  "Mutation.deletePlaybook": {
    access: "ADMIN",
    call: `mutation { deletePlaybook(id: "${X}") { __typename } }`,
  },
  "Mutation.runPlaybook": {
    access: "RESPONDER",
    call: `mutation { runPlaybook(input: { playbookId: "${X}", incidentId: "${Y}" }) { __typename } }`,
  },
  "Mutation.createHuntingQuery": {
    access: "ANALYST",
    call: `mutation { createHuntingQuery(input: { name: "m", query: "Events | take 1" }) { __typename } }`,
  },
  "Mutation.updateHuntingQuery": {
    access: "ANALYST",
    call: `mutation { updateHuntingQuery(input: { id: "${X}", name: "m" }) { __typename } }`,
  },
  "Mutation.deleteHuntingQuery": {
    access: "ANALYST",
    call: `mutation { deleteHuntingQuery(id: "${X}") { __typename } }`,
  },
  "Mutation.runSavedHunt": {
    access: "ANALYST",
    call: `mutation { runSavedHunt(id: "${X}") { __typename } }`,
  },
  "Mutation.createBookmark": {
    access: "ANALYST",
    call: `mutation { createBookmark(input: { name: "b", query: "Events", queryStartTime: "2026-01-01T00:00:00Z", queryEndTime: "2026-01-02T00:00:00Z", rows: [{ a: 1 }] }) { __typename } }`,
  },
  "Mutation.updateBookmark": {
    access: "ANALYST",
    call: `mutation { updateBookmark(input: { id: "${X}", notes: "n" }) { __typename } }`,
  },
  "Mutation.deleteBookmark": {
    access: "ANALYST",
    call: `mutation { deleteBookmark(id: "${X}") { __typename } }`,
  },
  "Mutation.attachBookmarkToIncident": {
    access: "ANALYST",
    call: `mutation { attachBookmarkToIncident(input: { bookmarkId: "${X}", incidentId: "${Y}" }) { __typename } }`,
  },
  "Mutation.detachBookmarkFromIncident": {
    access: "ANALYST",
    call: `mutation { detachBookmarkFromIncident(input: { bookmarkId: "${X}", incidentId: "${Y}" }) { __typename } }`,
  },
  "Mutation.createWatchlist": {
    access: "ADMIN",
    call: `mutation { createWatchlist(input: { alias: "matrix", name: "m", searchKey: "k", csv: "k\\nx" }) { __typename } }`,
  },
  "Mutation.addWatchlistItems": {
    access: "ADMIN",
    call: `mutation { addWatchlistItems(input: { watchlistId: "${X}", csv: "k\\nx" }) { __typename } }`,
  },
  "Mutation.removeWatchlistItems": {
    access: "ADMIN",
    call: `mutation { removeWatchlistItems(input: { watchlistId: "${X}", searchKeys: ["x"] }) { __typename } }`,
  },
  "Mutation.deleteWatchlist": {
    access: "ADMIN",
    call: `mutation { deleteWatchlist(id: "${X}") { __typename } }`,
  },

  "Subscription.incidentChanges": {
    access: "READER",
    call: `subscription($after: String) { incidentChanges(after: $after) { cursor } }`,
  },
  "Subscription.alertCreated": {
    access: "READER",
    call: `subscription($after: String) { alertCreated(after: $after) { cursor } }`,
  },
  "Subscription.alertUpdated": {
    access: "READER",
    call: `subscription($after: String) { alertUpdated(after: $after) { cursor } }`,
  },
};

/** The root fields a machine-bound agent credential may call (each keeps it to its own machine). */
const MACHINE_BOUND = ["Query.agentPolicy", "Mutation.ingestTelemetry", "Mutation.ingestPackageInventory"];

/**
 * What an INGEST mutation's answer may show an INGESTOR, per type reachable from it: the fields that
 * count or echo what it pushed ("all", or a list). Any other field of those types reads the tenant's
 * data and must refuse an INGESTOR; `PROBES` gives a call whose answer holds such an object.
 */
const INGESTOR_VISIBLE: Record<string, "all" | readonly string[]> = {
  UpsertAssessmentsPayload: "all",
  RecordRejection: "all",
  UpsertResourcesPayload: "all",
  RemoveResourcesPayload: "all",
  CloudAccount: ["id", "provider", "externalId", "name", "onboardedAt", "updatedAt"],
  IngestPackagesPayload: "all",
  IngestTelemetryPayload: "all",
  TelemetryRejection: "all",
  IngestAlertsPayload: "all",
  IngestEventsPayload: "all",
  EventRejection: "all",
  ImportStixBundlePayload: "all",
  StixProblem: "all",
  ImportAdvisoriesPayload: "all",
};

/** Per INGEST mutation with refused fields: its call with `%` for the selection, answering ≥ 1 object. */
const PROBES: Record<string, string> = {
  upsertCloudAccounts: `mutation { upsertCloudAccounts(input: [{ provider: AZURE, externalId: "matrix-sub-1", name: "Matrix" }]) %}`,
};

const api = (): GraphQLSchema => buildSchema(readFileSync(`${__dirname}/../gateway/schema.graphql`, "utf8"));

function rootFields(schema: GraphQLSchema): string[] {
  return [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].flatMap((t) =>
    t ? Object.keys(t.getFields()).map((f) => `${t.name}.${f}`) : [],
  );
}

/** The error codes of an answer (none: it was authorised and succeeded). */
const codesOf = (res: { errors?: ReadonlyArray<{ extensions?: { code?: unknown } }> }): string[] =>
  (res.errors ?? []).map((e) => String(e.extensions?.code));

/**
 * Codes an authorised call must not get: refused, or stopped before its resolver's check (an internal
 * error would hide whether the check passed).
 */
const NOT_DECIDED = [
  "FORBIDDEN",
  "UNAUTHENTICATED",
  "GRAPHQL_VALIDATION_FAILED",
  "GRAPHQL_PARSE_FAILED",
  "INTERNAL_SERVER_ERROR",
];

describe("authorization matrix", () => {
  let platform: TestPlatform;
  let tokens: Record<Caller, string>;
  const post = (query: string, token: string, variables: Record<string, unknown> = {}) =>
    postGraphql<Record<string, unknown>>(
      platform.gateway.url,
      { query, variables },
      { authorization: `Bearer ${token}` },
    );

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    tokens = Object.fromEntries(
      await Promise.all(
        CALLERS.map(async (c) => [
          c,
          await platform.token(c === "NONE" ? [] : [c as Role], "tenant-matrix", `${c.toLowerCase()}@matrix`),
        ]),
      ),
    ) as Record<Caller, string>;
  });
  afterAll(() => platform?.stop());

  it("has a decision for every Query, Mutation and Subscription field of the API, and for nothing else", () => {
    expect(Object.keys(MATRIX).sort()).toEqual(rootFields(api()).sort());
  });

  it("refuses every query and mutation below its role with FORBIDDEN and lets every role at or above it through", async () => {
    const calls = Object.entries(MATRIX)
      .filter(([field]) => !field.startsWith("Subscription."))
      .flatMap(([field, { access, call }]) => CALLERS.map((caller) => ({ field, access, call, caller })));
    const outcomes: string[] = [];
    const expected: string[] = [];
    for (let i = 0; i < calls.length; i += 36) {
      const batch = calls.slice(i, i + 36);
      const answers = await Promise.all(batch.map((c) => post(c.call, tokens[c.caller])));
      batch.forEach((c, j) => {
        const codes = codesOf(answers[j]);
        const allowed = ALLOWED[c.access].includes(c.caller);
        // Refused: FORBIDDEN and nothing else, no value. Allowed: no code that hides the decision.
        const data = answers[j].data;
        const empty = !data || Object.values(data).every((v) => v === null);
        const refused = codes.length > 0 && codes.every((code) => code === "FORBIDDEN") && empty;
        const decided = !codes.some((code) => NOT_DECIDED.includes(code));
        const outcome = refused ? "refused" : decided ? "allowed" : `undecided: ${codes.join(",")}`;
        outcomes.push(`${c.field} as ${c.caller}: ${outcome}`);
        expected.push(`${c.field} as ${c.caller}: ${allowed ? "allowed" : "refused"}`);
      });
    }
    expect(outcomes).toEqual(expected);
  });

  it("keeps a machine-bound INGESTOR to its machine's fields and routes, refusing every other with FORBIDDEN", async () => {
    const bound = await signDevToken(platform.config.jwt.secret!, {
      subject: "agent@matrix",
      tenantId: "tenant-matrix",
      roles: [Role.INGESTOR],
      resourceId: X,
      ttlSeconds: 600,
    });
    const calls = Object.entries(MATRIX).filter(([field]) => !field.startsWith("Subscription."));
    const answers = await Promise.all(calls.map(([, { call }]) => post(call, bound)));
    const outcomes = calls.map(([field], i) => {
      const codes = codesOf(answers[i]);
      const refused = codes.length > 0 && codes.every((code) => code === "FORBIDDEN");
      const decided = !codes.some((code) => NOT_DECIDED.includes(code));
      return `${field}: ${refused ? "refused" : decided ? "allowed" : `undecided: ${codes.join(",")}`}`;
    });
    expect(outcomes).toEqual(
      calls.map(([field]) => `${field}: ${MACHINE_BOUND.includes(field) ? "allowed" : "refused"}`),
    );
    const origin = new URL(platform.gateway.url).origin;
    const statuses = [];
    for (const path of ["/ingest/telemetry", "/ingest/events?connector=SYSLOG_CEF"]) {
      const res = await fetch(`${origin}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${bound}`, "content-type": "application/x-ndjson" },
        body: "\n",
      });
      statuses.push(`${path}: ${res.status}`);
    }
    expect(statuses).toEqual(["/ingest/telemetry: 200", "/ingest/events?connector=SYSLOG_CEF: 403"]);
  });

  it("lets every reader subscribe to each stream and refuses INGESTOR and role-less callers with FORBIDDEN", async () => {
    // One alert: it raises an alertCreated event and opens an incident (an incidentChanges event); its
    // triage raises an alertUpdated event.
    const raised = await post(
      `mutation { ingestAlerts(input: [{ sourceId: "matrix-1", title: "Matrix", severity: LOW, entities: [{ type: HOST, value: "matrix-host" }] }]) { createdCount ids } }`,
      tokens.INGESTOR,
    );
    const { createdCount, ids } = raised.data!.ingestAlerts as { createdCount: number; ids: string[] };
    expect(createdCount).toBe(1);
    const triaged = await post(
      `mutation { updateAlerts(input: { ids: ["${ids[0]}"], status: ACTIVE }) { updatedCount } }`,
      tokens.ANALYST,
    );
    expect(triaged.data).toEqual({ updateAlerts: { updatedCount: 1 } });
    // A cursor before everything: the stream replays what exists, so an allowed caller gets a result.
    const start = Buffer.from("o1:0:0").toString("base64url");
    const clients = CALLERS.map((c) => wsClient(platform.gateway.url, tokens[c]));
    try {
      const streams: Array<{ field: string; caller: Caller; access: Access; stream: Stream }> = [];
      for (const [field, { access, call }] of Object.entries(MATRIX))
        if (field.startsWith("Subscription."))
          CALLERS.forEach((caller, i) =>
            streams.push({ field, caller, access, stream: watch(clients[i], call, { after: start }) }),
          );
      await eventually(
        () => streams.every(({ stream }) => stream.completed || stream.results.length > 0),
        "every subscription to answer or end",
      );
      const outcome = ({ stream }: (typeof streams)[number]) => {
        const errors = (Array.isArray(stream.error) ? stream.error : stream.results[0]?.errors) as
          Array<{ extensions?: { code?: string } }> | undefined;
        if (errors?.length)
          return errors.every((e) => e.extensions?.code === "FORBIDDEN") ? "refused" : "error";
        return stream.results[0]?.data ? "allowed" : "nothing";
      };
      expect(streams.map((s) => `${s.field} as ${s.caller}: ${outcome(s)}`)).toEqual(
        streams.map(
          (s) => `${s.field} as ${s.caller}: ${ALLOWED[s.access].includes(s.caller) ? "allowed" : "refused"}`,
        ),
      );
      for (const { stream } of streams) stream.stop();
    } finally {
      await Promise.all(clients.map((c) => c.dispose()));
    }
  });

  it("shows an INGESTOR nothing through an ingest mutation's answer beyond what it pushed", async () => {
    const schema = api();
    const mutations = schema.getMutationType()!.getFields();
    /** Refused fields: the mutation, the path of fields below it, and the leaf's type. */
    const refused: Array<{ mutation: string; path: string[]; type: GraphQLNamedType }> = [];
    const unclassified: string[] = [];
    const walk = (mutation: string, type: GraphQLObjectType, path: string[]) => {
      const visible = INGESTOR_VISIBLE[type.name];
      if (!visible) {
        unclassified.push(`${type.name} (in ${mutation})`);
        return;
      }
      for (const field of Object.values(type.getFields())) {
        const named = getNamedType(field.type);
        if (visible === "all" || visible.includes(field.name)) {
          if (isObjectType(named)) walk(mutation, named, [...path, field.name]);
        } else refused.push({ mutation, path: [...path, field.name], type: named });
      }
    };
    for (const [name, { access }] of Object.entries(MATRIX))
      if (access === "INGEST") {
        const mutation = mutations[name.replace(/^Mutation\./, "")];
        walk(mutation.name, getNamedType(mutation.type) as GraphQLObjectType, []);
      }
    // A new type in an ingest answer needs a decision: which of its fields an INGESTOR may see.
    expect(unclassified).toEqual([]);
    expect(refused.map((r) => `${r.mutation}.${r.path.join(".")}`).sort()).toEqual([
      "upsertCloudAccounts.compliance",
      "upsertCloudAccounts.incidentSummary",
      "upsertCloudAccounts.plans",
      "upsertCloudAccounts.resources",
      "upsertCloudAccounts.secureScore",
    ]);

    for (const { mutation, path, type } of refused) {
      const probe = PROBES[mutation];
      expect(probe).toBeDefined();
      const leaf = isObjectType(type) ? `{ __typename }` : "";
      const selection = path.reduceRight((inner, field) => `{ ${field} ${inner} }`, leaf);
      const asIngestor = await post(probe.replace("%", selection), tokens.INGESTOR);
      expect({ field: path.join("."), codes: codesOf(asIngestor) }).toEqual({
        field: path.join("."),
        codes: ["FORBIDDEN"],
      });
      expect(asIngestor.data ?? null).toBeNull();
      // The same answer is open to an ADMIN, who may both push and read.
      const asAdmin = await post(probe.replace("%", selection), tokens.ADMIN);
      expect({ field: path.join("."), codes: codesOf(asAdmin) }).toEqual({
        field: path.join("."),
        codes: [],
      });
    }
  });

  it("answers the HTTP ingest routes as the GraphQL ingest mutations: INGESTOR and ADMIN only, at the gateway and on the subgraph", async () => {
    const routes = [
      { path: "/ingest/events?connector=SYSLOG_CEF", subgraph: platform.subgraphs.siem.url },
      { path: "/ingest/telemetry", subgraph: platform.subgraphs.protection.url },
    ];
    const gatewayOrigin = new URL(platform.gateway.url).origin;
    const outcomes: string[] = [];
    const expected: string[] = [];
    for (const { path, subgraph } of routes)
      for (const caller of CALLERS) {
        const body = "\n";
        const viaGateway = await fetch(`${gatewayOrigin}${path}`, {
          method: "POST",
          headers: { authorization: `Bearer ${tokens[caller]}`, "content-type": "application/x-ndjson" },
          body,
        });
        const internal = await platform.internalToken(
          caller === "NONE" ? [] : [caller as Role],
          "tenant-matrix",
        );
        const direct = await fetch(`${new URL(subgraph).origin}${path}`, {
          method: "POST",
          headers: { [IDENTITY_HEADER]: internal, "content-type": "application/x-ndjson" },
          body,
        });
        for (const [where, res] of [
          ["gateway", viaGateway],
          ["subgraph", direct],
        ] as const) {
          const json = (await res.json()) as GqlResponse<unknown>;
          const refused = res.status === 403 && codesOf(json).join() === "FORBIDDEN";
          outcomes.push(`${path} via ${where} as ${caller}: ${refused ? "refused" : `${res.status}`}`);
          expected.push(
            `${path} via ${where} as ${caller}: ${ALLOWED.INGEST.includes(caller) ? "200" : "refused"}`,
          );
        }
      }
    expect(outcomes).toEqual(expected);
  });

  it("serves `_entities` and `_service` straight from a subgraph only to the gateway's internal token, and `_entities` only to readers", async () => {
    const forged = await new SignJWT({ tid: "tenant-matrix", roles: [Role.ADMIN] })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("mallory")
      .setIssuer("rampart-gateway")
      .setAudience("rampart-subgraphs")
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode("not-the-internal-secret-but-long-enough-0000"));
    const entities = {
      posture: `{ _entities(representations: [{ __typename: "Resource", id: "${X}" }]) { __typename } }`,
      protection: `{ _entities(representations: [{ __typename: "CloudAccount", id: "${X}" }]) { ... on CloudAccount { plans { tier } } } }`,
      siem: `{ _entities(representations: [{ __typename: "Resource", id: "${X}" }]) { ... on Resource { alerts { totalCount } } } }`,
    } as const;
    for (const [name, query] of Object.entries(entities) as Array<[keyof typeof entities, string]>) {
      const url = platform.subgraphs[name].url;
      for (const q of [query, `{ _service { sdl } }`]) {
        for (const headers of [
          {},
          { [IDENTITY_HEADER]: forged },
          { authorization: `Bearer ${tokens.ADMIN}` },
        ]) {
          const res = await postGraphql(url, { query: q }, headers);
          expect({ name, q, status: res.status, codes: codesOf(res) }).toEqual({
            name,
            q,
            status: 401,
            codes: ["UNAUTHENTICATED"],
          });
        }
      }
      // The SDL is for the gateway (any internal token); entities are data, for readers only.
      const service = await postGraphql<{ _service: { sdl: string } }>(
        url,
        { query: `{ _service { sdl } }` },
        { [IDENTITY_HEADER]: await platform.internalToken([Role.INGESTOR], "tenant-matrix") },
      );
      expect(service.data?._service.sdl).toContain("type Query");
      for (const caller of CALLERS) {
        const internal = await platform.internalToken(
          caller === "NONE" ? [] : [caller as Role],
          "tenant-matrix",
        );
        const res = await postGraphql(url, { query }, { [IDENTITY_HEADER]: internal });
        const outcome = codesOf(res).includes("FORBIDDEN") ? "refused" : codesOf(res).join() || "allowed";
        expect(`${name} _entities as ${caller}: ${outcome}`).toBe(
          `${name} _entities as ${caller}: ${ALLOWED.READER.includes(caller) ? "allowed" : "refused"}`,
        );
      }
    }
    // The gateway's API has neither field.
    for (const q of [`{ _service { sdl } }`, entities.posture]) {
      const res = await post(q, tokens.ADMIN);
      expect(codesOf(res)).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
    }
  });

  it("answers introspection outside production, refuses it in production unless INTROSPECTION=true", async () => {
    const query = `{ __schema { queryType { name } } }`;
    expect((await post(query, tokens.READER)).data).toEqual({ __schema: { queryType: { name: "Query" } } });
    const secret = "matrix-production-jwt-secret-0123456789abcdef";
    const production = (extra: Record<string, string>) =>
      loadConfig({
        RAMPART_ENV: "production",
        LOG_LEVEL: "silent",
        INTERNAL_TOKEN_SECRET: "matrix-production-internal-secret-0123456789",
        DB_ROLE_PASSWORD: "matrix-password",
        DATABASE_URL: "postgres://unused@127.0.0.1:5432/unused",
        JWT_SECRET: secret,
        ...extra,
      });
    const started: Gateway[] = [];
    try {
      for (const [extra, answer] of [
        [{}, "refused"],
        [{ INTROSPECTION: "true" }, "answered"],
      ] as const) {
        const gateway = await startGateway(production(extra), createLogger("test", "silent"), {
          port: 0,
          subgraphUrls: {
            posture: platform.subgraphs.posture.url,
            protection: platform.subgraphs.protection.url,
            siem: platform.subgraphs.siem.url,
          },
        });
        started.push(gateway);
        const token = await signDevToken(secret, {
          subject: "r",
          tenantId: "tenant-matrix",
          roles: [Role.READER],
        });
        const res = await postGraphql(gateway.url, { query }, { authorization: `Bearer ${token}` });
        expect(res.data ? "answered" : `refused: ${codesOf(res).join()}`).toBe(
          answer === "answered" ? "answered" : "refused: GRAPHQL_VALIDATION_FAILED",
        );
      }
    } finally {
      for (const g of started) await g.close();
    }
  });
});
