/** The root fields of the composed API, with the access each needs and a call that passes GraphQL validation. */

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
export type Access = "READER" | "ANALYST" | "RESPONDER" | "ADMIN" | "INGEST" | "RECEIPT" | "AGENT";

/** An id nothing has: calls with it are authorised or refused before they find nothing. */
export const X = "0190a0a0-0000-7000-8000-000000000000";
export const Y = "0190a0a0-0000-7000-8000-000000000001";
const POLICY = `{ title: "t", description: "d", severity: LOW, controlId: "x", resourceTypes: [], condition: {}, remediation: [], threats: [] }`;

/**
 * One entry per root field of the composed API: the access it needs and a call with arguments that
 * pass GraphQL validation (a dummy id is fine: NOT_FOUND or BAD_USER_INPUT still shows the decision).
 */
export const MATRIX: Record<string, { access: Access; call: string }> = {
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
  "Query.detection": { access: "READER", call: `{ detection(id: "${X}") { __typename } }` },
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
  "Query.threatIndicator": { access: "READER", call: `{ threatIndicator(id: "${X}") { __typename } }` },
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
  "Mutation.removeCloudAccount": {
    access: "ADMIN",
    call: `mutation { removeCloudAccount(id: "${X}") { __typename } }`,
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
  "Mutation.revokeThreatIndicator": {
    access: "ADMIN",
    call: `mutation { revokeThreatIndicator(id: "${X}") { __typename } }`,
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
