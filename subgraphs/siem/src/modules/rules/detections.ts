import type { InsertedEventsHook } from "../events/event-ingest";
import { applicableTiRules, matchThreatIntel } from "../intel/ti-matcher";
import { runNrtRules } from "./rule-runner";
import { ingestRules } from "./rules.service";

/**
 * The ingest path's detections on fresh events, from one read of the tenant's rules per batch: near-real-time
 * rules, then threat-intelligence matching governed by the tenant's TI rules (their filters, severity, tactics,
 * suppression and grouping; the built-in TI rule when the tenant has none; nothing when all are disabled).
 */
export const detectOnIngest: InsertedEventsHook = async (m, tenantId, events) => {
  const rules = await ingestRules(m, tenantId);
  const now = new Date();
  const nrt = rules.filter((r) => r.enabled && r.spec.kind === "NRT" && !r.spec.threatIntelligence);
  if (nrt.length) await runNrtRules(m, tenantId, nrt, events, now);
  await matchThreatIntel(m, tenantId, events, applicableTiRules(rules), now);
};
