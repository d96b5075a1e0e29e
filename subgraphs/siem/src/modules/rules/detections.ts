import type { InsertedEventsHook } from "../events/event-ingest";
import { matchThreatIntel } from "../intel/ti-matcher";
import { runNrtRules } from "./rule-runner";
import { enabledNrtRules } from "./rules.service";

/** The ingest path's detections on fresh events: near-real-time rules, then threat-intelligence matching. */
export const detectOnIngest: InsertedEventsHook = async (m, tenantId, events) => {
  const rules = (await enabledNrtRules(m, tenantId)).filter((r) => !r.spec.threatIntelligence);
  if (rules.length) await runNrtRules(m, tenantId, rules, events, new Date());
  await matchThreatIntel(m, tenantId, events);
};
