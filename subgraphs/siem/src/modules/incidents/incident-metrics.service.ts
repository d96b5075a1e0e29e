import {
  BadUserInputError,
  textProblem,
  type Identity,
  type InputProblem,
  type RequestDb,
} from "../../../../common/src";
import { Severity } from "../alerts/alert.entity";
import { IncidentClassification } from "./incident-workflow.types";
import {
  IncidentClassificationCount,
  IncidentDailyCount,
  IncidentDurationStats,
  IncidentMetrics,
  IncidentOwnerMetrics,
  IncidentSeverityCount,
  type IncidentMetricsFilter,
} from "./incident-metrics.types";

/** The longest window: a year's report, leap day included, and the daily series stays at most 367 rows. */
const MAX_METRICS_WINDOW_DAYS = 366;
const DAY_MS = 86_400_000;

/** Highest first, as the severity order of incident lists. */
const SEVERITIES = [Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFORMATIONAL];
const CLASSIFICATIONS = Object.values(IncidentClassification);

/**
 * Mean and percentiles of `expr` (seconds) over the counted incidents where it is not null, as one JSON
 * object. avg and percentile_cont skip nulls, so no FILTER is needed.
 */
const durationStats = (expr: string) =>
  `(SELECT json_build_object('samples', count(s), 'mean', avg(s),
     'p50', percentile_cont(0.5) WITHIN GROUP (ORDER BY s), 'p90', percentile_cont(0.9) WITHIN GROUP (ORDER BY s))
   FROM (SELECT ${expr} AS s FROM counted) x)`;

/**
 * SOC efficiency figures (Sentinel's "security operations efficiency"): counts, backlog and triage times over
 * the incidents created in a window, all in one statement whatever their number.
 */
export class IncidentMetricsService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
  ) {}

  /**
   * The figures of `[from, to)`, read on the replica when there is one (a dashboard tolerates its lag); a window
   * that is empty, reversed or over 366 days is BAD_USER_INPUT.
   */
  async metrics(from: Date, to: Date, filter: IncidentMetricsFilter | undefined): Promise<IncidentMetrics> {
    const problems: InputProblem[] = [];
    if (from >= to) problems.push({ field: "from", message: "must be before `to`" });
    else if (to.getTime() - from.getTime() > MAX_METRICS_WINDOW_DAYS * DAY_MS)
      problems.push({ field: "to", message: `at most ${MAX_METRICS_WINDOW_DAYS} days after \`from\`` });
    const ownerProblem = textProblem(filter?.owner ?? "");
    if (ownerProblem) problems.push({ field: "filter.owner", message: ownerProblem });
    (filter?.labels ?? []).forEach((label, index) => {
      const problem = textProblem(label);
      if (problem) problems.push({ index, field: "filter.labels", message: problem });
    });
    if (problems.length) throw new BadUserInputError("Invalid incident metrics request.", problems);

    const where = ["i.tenant_id = $1", "i.created_at >= $2", "i.created_at < $3", "i.merged_into IS NULL"];
    const params: unknown[] = [this.identity.tenantId, from, to, SEVERITIES, CLASSIFICATIONS];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replaceAll("?", `$${params.length}`));
    };
    if (filter?.severities?.length) add("i.severity = ANY(?::text[])", filter.severities);
    if (filter?.owner) add("lower(i.owner) = lower(?)", filter.owner);
    if (filter?.labels?.length) add("i.labels && ?::text[]", filter.labels);

    // `closed_at` is the final close (reopening clears it), counted only when it fell in the window. The
    // activity log gives what the row forgets: the first acknowledgement and the status at `to`. Alert
    // triage logs `alert_updated` entries with an alert's status in `changes.status`, hence the actions.
    const [{ figures }]: Array<{ figures: Figures }> = await this.db.readReplica((m) =>
      m.query(
        `WITH counted AS MATERIALIZED (
           SELECT i.severity, i.owner, i.classification, i.created_at,
             CASE WHEN i.status = 'CLOSED' AND i.closed_at >= $2 AND i.closed_at < $3 THEN i.closed_at END AS closed_at,
             ack.at AS ack_at, coalesce(st.status, 'NEW') AS status_at_to
           FROM incidents i
           LEFT JOIN LATERAL (
             SELECT a.at FROM incident_activity a
             WHERE a.tenant_id = $1 AND a.incident_id = i.id AND a.at < $3 AND a.action = 'updated'
               AND (a.changes->'status'->>1 = 'ACTIVE' OR a.changes->'owner'->>1 IS NOT NULL)
             ORDER BY a.at, a.id LIMIT 1
           ) ack ON true
           LEFT JOIN LATERAL (
             SELECT a.changes->'status'->>1 AS status FROM incident_activity a
             WHERE a.tenant_id = $1 AND a.incident_id = i.id AND a.at < $3
               AND a.action IN ('updated', 'closed', 'reopened') AND a.changes ? 'status'
             ORDER BY a.at DESC, a.id DESC LIMIT 1
           ) st ON true
           WHERE ${where.join(" AND ")}
         ),
         days AS (
           SELECT d AS day FROM generate_series(date_trunc('day', $2::timestamptz AT TIME ZONE 'UTC'),
             $3::timestamptz AT TIME ZONE 'UTC' - interval '1 microsecond', interval '1 day') d
         ),
         created_per_day AS (
           SELECT date_trunc('day', created_at AT TIME ZONE 'UTC') AS day, count(*) AS n FROM counted GROUP BY 1
         ),
         closed_per_day AS (
           SELECT date_trunc('day', closed_at AT TIME ZONE 'UTC') AS day, count(*) AS n
           FROM counted WHERE closed_at IS NOT NULL GROUP BY 1
         )
         SELECT json_build_object(
           'created', (SELECT count(*) FROM counted),
           'closed', (SELECT count(closed_at) FROM counted),
           'backlog', (SELECT count(*) FROM counted WHERE status_at_to IN ('NEW', 'ACTIVE')),
           'bySeverity', (SELECT json_agg(json_build_array(v.s, (SELECT count(*) FROM counted WHERE severity = v.s)) ORDER BY v.o)
                          FROM unnest($4::text[]) WITH ORDINALITY v(s, o)),
           'byClassification', (SELECT json_agg(json_build_array(v.c,
                                  (SELECT count(*) FROM counted WHERE closed_at IS NOT NULL AND classification = v.c)) ORDER BY v.o)
                                FROM unnest($5::text[]) WITH ORDINALITY v(c, o)),
           'acknowledge', ${durationStats("extract(epoch FROM ack_at - created_at)")},
           'close', ${durationStats("extract(epoch FROM closed_at - created_at)")},
           'owners', (SELECT coalesce(json_agg(o ORDER BY o.assigned DESC, o.owner), '[]') FROM (
                        SELECT owner, count(*) AS assigned, count(closed_at) AS closed,
                          avg(extract(epoch FROM closed_at - created_at)) AS mean
                        FROM counted WHERE owner IS NOT NULL GROUP BY owner) o),
           'daily', (SELECT json_agg(json_build_array(to_char(d.day, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                       coalesce(c.n, 0), coalesce(x.n, 0)) ORDER BY d.day)
                     FROM days d LEFT JOIN created_per_day c ON c.day = d.day LEFT JOIN closed_per_day x ON x.day = d.day)
         ) AS figures`,
        params,
      ),
    );
    return Object.assign(new IncidentMetrics(), {
      from,
      to,
      createdCount: figures.created,
      closedCount: figures.closed,
      backlogCount: figures.backlog,
      bySeverity: figures.bySeverity.map(([severity, count]) =>
        Object.assign(new IncidentSeverityCount(), { severity, count }),
      ),
      byClassification: figures.byClassification.map(([classification, count]) =>
        Object.assign(new IncidentClassificationCount(), { classification, count }),
      ),
      timeToAcknowledge: durationsOf(figures.acknowledge),
      timeToClose: durationsOf(figures.close),
      owners: figures.owners.map((o) =>
        Object.assign(new IncidentOwnerMetrics(), {
          owner: o.owner,
          assignedCount: o.assigned,
          closedCount: o.closed,
          meanTimeToCloseSeconds: o.mean,
        }),
      ),
      daily: figures.daily.map(([day, createdCount, closedCount]) =>
        Object.assign(new IncidentDailyCount(), { day: new Date(day), createdCount, closedCount }),
      ),
    });
  }
}

/** The statement's answer, as its JSON gives it. */
interface Figures {
  created: number;
  closed: number;
  backlog: number;
  bySeverity: Array<[Severity, number]>;
  byClassification: Array<[IncidentClassification, number]>;
  acknowledge: Durations;
  close: Durations;
  owners: Array<{ owner: string; assigned: number; closed: number; mean: number | null }>;
  daily: Array<[string, number, number]>;
}

/** Duration statistics in seconds, null without samples. */
interface Durations {
  samples: number;
  mean: number | null;
  p50: number | null;
  p90: number | null;
}

/** The GraphQL object of a statement's duration statistics. */
function durationsOf(d: Durations): IncidentDurationStats {
  return Object.assign(new IncidentDurationStats(), {
    samples: d.samples,
    meanSeconds: d.mean,
    medianSeconds: d.p50,
    p90Seconds: d.p90,
  });
}
