import DataLoader from "dataloader";
import { BadUserInputError, isUuid, type Identity, type RequestDb } from "../../../../common/src";
import { benchmarkControls } from "../assessments/controls";
import { securityControls } from "../policies/policies.service";
import { computeSecureScore, type ControlCounts } from "./secure-score";
import { ControlScore, SecureScore, SecureScoreSnapshot } from "./score.types";

const MAX_HISTORY_DAYS = 400;

/** Secure Score from the incrementally kept counters, per tenant or account, and its daily history. */
export class ScoreService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
  ) {}

  /** Counters of every account of the tenant (one small read per request), by scope ("" = tenant). */
  private readonly counters = new DataLoader<string, Map<string, ControlCounts>>(async (keys) => {
    const rows: Array<{
      account_id: string;
      control_id: string;
      healthy: number;
      unhealthy: number;
      not_applicable: number;
    }> = await this.db.read((m) =>
      m.query(
        `SELECT account_id, control_id, healthy, unhealthy, not_applicable FROM score_counters WHERE tenant_id = $1`,
        [this.identity.tenantId],
      ),
    );
    const byScope = new Map<string, Map<string, ControlCounts>>();
    const add = (scope: string, r: (typeof rows)[number]) => {
      const counts = byScope.get(scope) ?? byScope.set(scope, new Map()).get(scope)!;
      const c = counts.get(r.control_id) ?? { healthy: 0, unhealthy: 0, notApplicable: 0 };
      c.healthy += r.healthy;
      c.unhealthy += r.unhealthy;
      c.notApplicable += r.not_applicable;
      counts.set(r.control_id, c);
    };
    for (const r of rows) {
      add("", r);
      add(r.account_id, r);
    }
    return keys.map((k) => byScope.get(k) ?? new Map());
  });

  /** The score of the tenant (resources summed across accounts) or of one account. */
  async score(accountId?: string | null): Promise<SecureScore> {
    if (accountId && !isUuid(accountId))
      return this.toGraph(computeSecureScore(benchmarkControls(), new Map()));
    return this.toGraph(computeSecureScore(benchmarkControls(), await this.counters.load(accountId ?? "")));
  }

  /** Daily snapshots between two days (inclusive), oldest first; read on the replica when there is one. */
  async history(accountId: string | null | undefined, from: Date, to: Date): Promise<SecureScoreSnapshot[]> {
    // Postgres dates have no year 0, and `toISOString` writes years past 9999 as `+010000-…`.
    for (const [field, day] of [
      ["from", from],
      ["to", to],
    ] as const) {
      const year = day.getUTCFullYear();
      if (year < 1 || year > 9999)
        throw new BadUserInputError("Invalid range.", [{ field, message: "must be in the years 1 to 9999" }]);
    }
    if (to < from)
      throw new BadUserInputError("Invalid range.", [{ field: "to", message: "is before from" }]);
    if ((to.getTime() - from.getTime()) / 86_400_000 > MAX_HISTORY_DAYS) {
      throw new BadUserInputError("Invalid range.", [
        { field: "from", message: `at most ${MAX_HISTORY_DAYS} days` },
      ]);
    }
    // As `score`: an id that is no UUID names no account (and may not reach SQL).
    if (accountId && !isUuid(accountId)) return [];
    const rows: Array<{ day: string; current: string; max: string; percentage: string }> =
      await this.db.readReplica((m) =>
        m.query(
          `SELECT to_char(day, 'YYYY-MM-DD') AS day, current, max, percentage FROM score_snapshots
         WHERE tenant_id = $1 AND scope = $2 AND day BETWEEN $3::date AND $4::date ORDER BY day`,
          [
            this.identity.tenantId,
            accountId ? `account:${accountId}` : "tenant",
            from.toISOString().slice(0, 10),
            to.toISOString().slice(0, 10),
          ],
        ),
      );
    return rows.map((r) =>
      Object.assign(new SecureScoreSnapshot(), {
        day: r.day,
        current: Number(r.current),
        max: Number(r.max),
        percentage: Number(r.percentage),
      }),
    );
  }

  private toGraph(score: ReturnType<typeof computeSecureScore>): SecureScore {
    const controls = new Map(securityControls().map((c) => [c.id, c]));
    return Object.assign(new SecureScore(), {
      current: score.current,
      max: score.max,
      percentage: score.percentage,
      controls: score.controls.map((c) =>
        Object.assign(new ControlScore(), {
          control: controls.get(c.controlId)!,
          current: c.current,
          max: c.max,
          percentage: c.percentage,
          healthy: c.healthy,
          unhealthy: c.unhealthy,
          notApplicable: c.notApplicable,
          weight: c.weight,
        }),
      ),
    });
  }
}
