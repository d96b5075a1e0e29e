import {
  BadUserInputError,
  canonicalId,
  isUuid,
  newId,
  NotFoundError,
  toKeysetPage,
  writeAudit,
  writeOutbox,
  Connection,
  type Identity,
  type PageArgs,
  type RequestDb,
} from "../../../../common/src";
import type { EntityManager } from "typeorm";
import type { EntityType } from "../alerts/alert-store";
import { queueRetroMatch } from "./retro-match";
import { indicatorsMatchingEntity } from "./ti-matcher";
import { parseStixBundle, type Observable, type ParsedBundle } from "./stix";
import { ImportStixBundlePayload, StixProblem, ThreatIndicator } from "./intel.types";

/** A page of indicators. */
export const ThreatIndicatorConnection = Connection(ThreatIndicator);
export type ThreatIndicatorConnection = InstanceType<typeof ThreatIndicatorConnection>;

/** Most indicators `EntityProfile.threatIndicators` lists (overlapping ranges may hold many). */
export const MAX_ENTITY_INDICATORS = 100;

/** Largest bundle accepted, serialised. */
export const MAX_BUNDLE_BYTES = 8 * 1024 * 1024;

const describe = (groups: Observable[][]) =>
  groups.map((g) => g.map((o) => `${o.type}:${o.value}`).join(" AND "));

function indicatorFromRow(row: Record<string, unknown>): ThreatIndicator {
  const now = Date.now();
  const validFrom = row.valid_from as Date;
  const validUntil = (row.valid_until as Date | null) ?? null;
  return Object.assign(new ThreatIndicator(), {
    id: row.id,
    stixId: row.stix_id,
    name: row.name ?? null,
    description: row.description ?? null,
    pattern: row.pattern,
    observables: describe(row.groups as Observable[][]),
    partial: row.partial,
    matchable: (row.groups as Observable[][]).length > 0,
    indicatorTypes: (row.indicator_types as string[] | null) ?? [],
    confidence: row.confidence ?? null,
    labels: row.labels ?? [],
    validFrom,
    validUntil,
    revoked: row.revoked,
    active: !row.revoked && validFrom.getTime() <= now && (!validUntil || validUntil.getTime() > now),
    source: row.source ?? null,
    feedId: row.feed_id ?? null,
  });
}

/**
 * Moves the tenant's indicator version (see `threat_indicator_versions`) in the caller's transaction: every change
 * to a tenant's indicators must call it, or processes keep matching with their old index.
 */
export async function bumpIndicatorVersion(m: EntityManager, tenantId: string): Promise<void> {
  await m.query(
    `INSERT INTO threat_indicator_versions AS v (tenant_id, version) VALUES ($1, 1)
     ON CONFLICT (tenant_id) DO UPDATE SET version = v.version + 1`,
    [tenantId],
  );
}

/** Threat intelligence: STIX 2.1 import and the indicator list. */
export class IntelService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
  ) {}

  /** The tenant's indicators by id, a keyset page at a time (feeds hold far more than one answer should). */
  async list(args: PageArgs, activeOnly: boolean): Promise<ThreatIndicatorConnection> {
    const page = toKeysetPage(args, "none");
    const tenant = this.identity.tenantId;
    const where = activeOnly
      ? "tenant_id = $1 AND NOT revoked AND valid_from <= now() AND (valid_until IS NULL OR valid_until > now())"
      : "tenant_id = $1";
    // $2 is the cursor's id, or null on the first page.
    const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
      m.query(
        `SELECT * FROM threat_indicators WHERE ${where} AND ($2::uuid IS NULL OR id > $2::uuid) ORDER BY id LIMIT $3`,
        [tenant, page.after?.[1] ?? null, page.first + 1],
      ),
    );
    return ThreatIndicatorConnection.from({
      rows: rows.map(indicatorFromRow),
      page,
      total: async () =>
        (
          await this.db.read((m) =>
            m.query(`SELECT count(*)::int AS n FROM threat_indicators WHERE ${where}`, [tenant]),
          )
        )[0].n as number,
      cursorOf: (i) => [null, i.id],
    });
  }

  /** One indicator by id; null when the tenant has none of that id. */
  async byId(id: string): Promise<ThreatIndicator | null> {
    if (!isUuid(id)) return null;
    const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
      m.query(`SELECT * FROM threat_indicators WHERE tenant_id = $1 AND id = $2`, [
        this.identity.tenantId,
        canonicalId(id),
      ]),
    );
    return rows.length ? indicatorFromRow(rows[0]) : null;
  }

  /**
   * The active indicators an event holding this entity would match now (`EntityProfile.threatIndicators`):
   * the in-memory index ingest matches with, then those indicators' rows; two statements (the version, the rows),
   * three when the index is rebuilt.
   */
  async matching(type: EntityType, value: string): Promise<ThreatIndicator[]> {
    return this.db.read(async (m) => {
      const ids = await indicatorsMatchingEntity(
        m,
        this.identity.tenantId,
        type,
        value,
        MAX_ENTITY_INDICATORS,
      );
      if (ids.length === 0) return [];
      const rows: Array<Record<string, unknown>> = await m.query(
        `SELECT * FROM threat_indicators WHERE tenant_id = $1 AND id = ANY($2::uuid[]) ORDER BY id`,
        [this.identity.tenantId, ids],
      );
      return rows.map(indicatorFromRow);
    });
  }

  /**
   * Revokes an indicator (ADMIN), as its producer's STIX revocation would: it stops matching at once in every
   * process (the tenant's indicator version moves), stays listed as revoked, and a later version of it from a
   * bundle or feed is refused (revocation is permanent). Revoking a revoked one changes nothing. NOT_FOUND for an
   * unknown or another tenant's id.
   */
  async revoke(id: string): Promise<ThreatIndicator> {
    if (!isUuid(id)) throw new NotFoundError("Threat indicator", id);
    return this.db.write(async (m) => {
      const [row]: Array<Record<string, unknown>> = await m.query(
        `SELECT * FROM threat_indicators WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
        [this.identity.tenantId, canonicalId(id)],
      );
      if (!row) throw new NotFoundError("Threat indicator", id);
      if (row.revoked) return indicatorFromRow(row);
      // TypeORM gives an UPDATE's result as [rows, affected count].
      const [[updated]]: [Array<Record<string, unknown>>, number] = await m.query(
        `UPDATE threat_indicators SET revoked = true WHERE tenant_id = $1 AND id = $2 RETURNING *`,
        [this.identity.tenantId, row.id],
      );
      await bumpIndicatorVersion(m, this.identity.tenantId);
      await writeOutbox(m, [
        {
          tenantId: this.identity.tenantId,
          topic: "intel.indicators.changed",
          key: this.identity.tenantId,
          payload: { revoked: 1 },
        },
      ]);
      await writeAudit(m, this.identity, [
        {
          action: "intel.indicator.revoke",
          target: `threat_indicator:${row.id as string}`,
          details: { stixId: row.stix_id },
        },
      ]);
      return indicatorFromRow(updated);
    });
  }

  /** Imports a STIX 2.1 bundle: new indicators are added, newer versions replace older ones, invalid objects are reported. */
  async importBundle(bundle: unknown): Promise<ImportStixBundlePayload> {
    let size = 0;
    try {
      size = JSON.stringify(bundle)?.length ?? 0;
    } catch {
      throw new BadUserInputError("The bundle is not JSON.", [
        { field: "bundle", message: "not serialisable" },
      ]);
    }
    if (size > MAX_BUNDLE_BYTES)
      throw new BadUserInputError("The bundle is too large.", [
        { field: "bundle", message: `${size} bytes; at most ${MAX_BUNDLE_BYTES}` },
      ]);
    const parsed = parseStixBundle(bundle);
    if (parsed.problems.some((p) => p.path === "$")) {
      throw new BadUserInputError(
        "Not a STIX 2.1 bundle; nothing was imported.",
        parsed.problems.map((p) => ({ field: `bundle${p.path.slice(1)}`, message: p.message })),
      );
    }
    if (parsed.indicators.length === 0) return payloadOf(parsed);
    return this.db.write((m) => storeIndicators(m, this.identity, parsed, null));
  }
}

/** Where stored indicators came from: a TAXII feed (its id and name), or null for `importStixBundle`. */
export type IndicatorSource = { feedId: string; name: string } | null;

/** The payload of an import before anything is stored: the parser's problems and skipped objects. */
function payloadOf(parsed: ParsedBundle): ImportStixBundlePayload {
  return Object.assign(new ImportStixBundlePayload(), {
    createdCount: 0,
    updatedCount: 0,
    unchangedCount: 0,
    skippedCount: parsed.skipped,
    problems: parsed.problems.map((p) => Object.assign(new StixProblem(), p)),
  });
}

/**
 * Stores a parsed bundle's indicators for `identity`'s tenant in the caller's transaction: new ones are added,
 * newer versions replace older ones (by STIX id and `modified`), revoked ones stay revoked, and the tenant's
 * indicator version moves so every process rebuilds its index, and a job is queued that matches the stored and
 * changed indicators against the events stored before (retro-match.ts). The one path of `importStixBundle` and of TAXII
 * feed polls, so both validate, version and revoke alike. `source` is recorded on each indicator it changes.
 */
export async function storeIndicators(
  m: EntityManager,
  identity: Identity,
  parsed: ParsedBundle,
  source: IndicatorSource,
): Promise<ImportStixBundlePayload> {
  const payload = payloadOf(parsed);
  if (parsed.indicators.length === 0) return payload;
  // Rows are written in STIX id order, so two imports of overlapping bundles wait for each other instead of
  // deadlocking (each would otherwise lock the rows in its own bundle's order).
  const ind = [...parsed.indicators].sort((a, b) => (a.stixId < b.stixId ? -1 : a.stixId > b.stixId ? 1 : 0));
  // STIX revocation is permanent (producers must not version a revoked object again): a later version of a
  // revoked indicator is left out, so a feed cannot bring a revoked indicator back by mistake.
  const revoked: Array<{ stix_id: string; modified: Date }> = await m.query(
    `SELECT stix_id, modified FROM threat_indicators WHERE tenant_id = $1 AND revoked AND stix_id = ANY($2::text[])`,
    [identity.tenantId, ind.map((i) => i.stixId)],
  );
  const revokedAt = new Map(revoked.map((r) => [r.stix_id, r.modified.getTime()]));
  for (const i of parsed.indicators) {
    const at = revokedAt.get(i.stixId);
    if (at !== undefined && !i.revoked && Date.parse(i.modified) > at) {
      payload.problems.push(
        Object.assign(new StixProblem(), {
          path: i.path,
          message: `${i.stixId} was revoked; revocation is permanent, so this later version is ignored`,
        }),
      );
    }
  }
  const rows: Array<{ inserted: boolean; changed: boolean }> = await m.query(
    `WITH input AS (
         SELECT * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::boolean[], $9::int[],
                              $10::jsonb[], $11::jsonb[], $12::timestamptz[], $13::timestamptz[], $14::boolean[], $15::timestamptz[], $16::timestamptz[])
           AS i(id, stix_id, name, description, pattern, groups, partial, confidence, labels, indicator_types, valid_from, valid_until, revoked, created, modified)
       )
       INSERT INTO threat_indicators AS t (tenant_id, id, stix_id, name, description, pattern, groups, partial, confidence, labels, indicator_types,
                                           valid_from, valid_until, revoked, created, modified, feed_id, source)
       SELECT $1, id, stix_id, name, description, pattern, groups, partial, confidence,
              ARRAY(SELECT jsonb_array_elements_text(labels)), ARRAY(SELECT jsonb_array_elements_text(indicator_types)),
              valid_from, valid_until, revoked, created, modified, $17::uuid, $18::text FROM input
       ON CONFLICT (tenant_id, stix_id) DO UPDATE SET name = excluded.name, description = excluded.description, pattern = excluded.pattern,
         groups = excluded.groups, partial = excluded.partial, confidence = excluded.confidence, labels = excluded.labels,
         indicator_types = excluded.indicator_types, valid_from = excluded.valid_from, valid_until = excluded.valid_until,
         revoked = excluded.revoked, created = excluded.created, modified = excluded.modified, imported_at = now(),
         feed_id = excluded.feed_id, source = excluded.source
         WHERE excluded.modified > t.modified AND NOT t.revoked
       RETURNING (xmax = 0) AS inserted, true AS changed`,
    [
      identity.tenantId,
      ind.map(() => newId()),
      ind.map((i) => i.stixId),
      ind.map((i) => i.name),
      ind.map((i) => i.description),
      ind.map((i) => i.pattern),
      ind.map((i) => JSON.stringify(i.groups)),
      ind.map((i) => i.partial),
      ind.map((i) => i.confidence),
      ind.map((i) => JSON.stringify(i.labels)),
      ind.map((i) => JSON.stringify(i.indicatorTypes)),
      ind.map((i) => i.validFrom),
      ind.map((i) => i.validUntil),
      ind.map((i) => i.revoked),
      ind.map((i) => i.created),
      ind.map((i) => i.modified),
      source?.feedId ?? null,
      source?.name ?? null,
    ],
  );
  payload.createdCount = rows.filter((r) => r.inserted).length;
  payload.updatedCount = rows.length - payload.createdCount;
  payload.unchangedCount = ind.length - rows.length;
  if (rows.length) {
    // Events stored before these indicators are matched by a job once this commits (retro-match.ts).
    await queueRetroMatch(m, identity.tenantId);
    // Last, so the counter row is held only until commit: processes rebuild their indexes when it moves.
    await bumpIndicatorVersion(m, identity.tenantId);
    await writeOutbox(m, [
      {
        tenantId: identity.tenantId,
        topic: "intel.indicators.changed",
        key: identity.tenantId,
        payload: { created: payload.createdCount, updated: payload.updatedCount },
      },
    ]);
  }
  await writeAudit(m, identity, [
    {
      action: "intel.stix.import",
      target: source ? `threat_intel_feed:${source.feedId}` : "threat_indicators",
      details: {
        created: payload.createdCount,
        updated: payload.updatedCount,
        problems: payload.problems.length,
      },
    },
  ]);
  return payload;
}
