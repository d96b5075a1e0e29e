import type { TaskList } from "graphile-worker";
import type { DataSource } from "typeorm";
import { addJob, inSystemScope, inTenant, writeOutbox, type Logger } from "../../../../common/src";
import {
  evaluateTenant,
  forgetDefinition,
  lockEvaluationContext,
  refreshTodaySnapshots,
} from "./assessment.runner";
import { reapplyExternal } from "./assessments.service";
import { builtInVersions } from "./definition-registry";

/**
 * Recurring posture jobs: a daily snapshot of every tenant's score (so quiet days are recorded too), and the hourly
 * pruning of the assessment change log that kept compliance signatures are checked against.
 */
export const POSTURE_CRONTAB = ["5 0 * * * score_snapshot_daily", "17 * * * * assessment_changes_prune"].join(
  "\n",
);

/**
 * Deletes the rows of `assessment_changes` written by transactions that ended before the oldest snapshot still
 * open, raising the horizon to it in the same transaction: signatures read in a snapshot older than the horizon
 * are read again (the rows that would show a change since may be gone), any others still find every change.
 */
export function pruneAssessmentChanges(ds: DataSource): Promise<number> {
  return inSystemScope(ds, async (m) => {
    const [{ horizon }]: Array<{ horizon: string }> = await m.query(
      `SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon`,
    );
    await m.query(`UPDATE assessment_changes_horizon SET horizon = greatest(horizon, $1::xid8)`, [horizon]);
    const [, deleted]: [unknown, number] = await m.query(
      `DELETE FROM assessment_changes WHERE xid < $1::xid8`,
      [horizon],
    );
    return deleted;
  });
}

/** The task that evaluates built-in definitions added or changed since a tenant's last evaluation. */
export const BUILT_IN_DEFINITIONS_CHANGED = "built_in_definitions_changed";

/**
 * Queues the check of the shipped benchmark against every tenant's last evaluation (at start; one pending job
 * however many replicas start, by its key).
 */
export function queueBuiltInEvaluation(ds: DataSource): Promise<void> {
  return inSystemScope(ds, (m) =>
    addJob(m, "posture", BUILT_IN_DEFINITIONS_CHANGED, {}, { jobKey: "built-in-definitions" }),
  );
}

/** Durable posture jobs. */
export function postureTasks(ds: DataSource, log: Logger): TaskList {
  return {
    assessment_changes_prune: async () => {
      const deleted = await pruneAssessmentChanges(ds);
      log.debug({ deleted }, "assessment change log pruned");
    },
    /** An exemption reached its expiry: its assessments return to their evaluated status. */
    exemption_expired: async (payload) => {
      const { tenantId, definitionId } = payload as {
        tenantId: string;
        exemptionId: string;
        definitionId: string;
      };
      await inTenant(ds, tenantId, async (m) => {
        // An exemption ending changes what evaluations read, as one revoked does: an evaluation under way would
        // otherwise commit after this one and keep what it read (and this one would keep a stale resource).
        await lockEvaluationContext(m, tenantId, "exclusive");
        const external = await m.query(
          `SELECT 1 FROM external_definitions WHERE tenant_id = $1 AND id = $2`,
          [tenantId, definitionId],
        );
        if (external.length) await reapplyExternal(m, tenantId, definitionId);
        else await evaluateTenant(m, tenantId, { definitionIds: [definitionId] });
      });
      log.info({ tenantId, definitionId }, "exemption expired; assessments restored");
    },
    /**
     * Queued at every start: the shipped benchmark may have gained definitions (or new versions of some) since a
     * tenant's resources were last evaluated, and incremental evaluation only sees resources that change. Each
     * tenant is brought up to date in its own transaction, so a retry after a failure skips the tenants done.
     * A built-in its record names that is no longer shipped (removed or renamed) is forgotten as a deleted custom
     * definition is, its exemptions and settings kept (`forgetDefinition`): otherwise its assessments would keep
     * counting in recommendations, the score and compliance for a rule that no longer exists.
     */
    [BUILT_IN_DEFINITIONS_CHANGED]: async () => {
      const current = builtInVersions();
      const tenants: Array<{ tenant_id: string; versions: Record<string, string> }> = await inSystemScope(
        ds,
        (m) => m.query(`SELECT tenant_id, versions FROM built_in_evaluations ORDER BY tenant_id`),
      );
      for (const { tenant_id: tenantId, versions } of tenants) {
        const changed = Object.keys(current).filter((id) => versions[id] !== current[id]);
        const removed = Object.keys(versions).filter((id) => !(id in current));
        if (changed.length === 0 && removed.length === 0) continue;
        const outcome = await inTenant(ds, tenantId, async (m) => {
          // As deleting or changing a definition: evaluations under way finish first, and none starts until this
          // one has committed (one that read the old definitions, or that this one read the resources before,
          // would otherwise overwrite the other's assessments with what it read).
          await lockEvaluationContext(m, tenantId, "exclusive");
          const forgotten: Record<string, number> = {};
          for (const id of removed) {
            const gone = await forgetDefinition(m, tenantId, id, { keepDecisions: true });
            forgotten[id] = gone.assessments;
            await writeOutbox(m, [
              {
                tenantId,
                topic: "policies.definition.deleted",
                key: id,
                payload: { id, version: versions[id], source: "BUILT_IN", ...gone },
              },
            ]);
          }
          const { changedAssessments } = changed.length
            ? await evaluateTenant(m, tenantId, { definitionIds: changed })
            : { changedAssessments: 0 };
          await m.query(
            `UPDATE built_in_evaluations SET versions = $2::jsonb, evaluated_at = now() WHERE tenant_id = $1`,
            [tenantId, JSON.stringify(current)],
          );
          return { changedAssessments, forgotten };
        });
        log.info(
          {
            tenantId,
            definitions: changed.length,
            changedAssessments: outcome.changedAssessments,
            removedAssessments: outcome.forgotten,
          },
          "built-in definitions evaluated after a benchmark change",
        );
      }
    },
    score_snapshot_daily: async () => {
      const tenants: Array<{ tenant_id: string }> = await inSystemScope(ds, (m) =>
        m.query(`SELECT DISTINCT tenant_id FROM score_counters`),
      );
      for (const { tenant_id } of tenants)
        await inTenant(ds, tenant_id, (m) => refreshTodaySnapshots(m, tenant_id));
    },
  };
}
