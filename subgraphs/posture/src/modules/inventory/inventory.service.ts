import {
  BadUserInputError,
  canonicalId,
  containsPattern,
  assertNoProblems,
  isArmId,
  isUuid,
  newId,
  NotFoundError,
  OrderDirection,
  resourceKindOf,
  toKeysetPage,
  writeAudit,
  writeOutbox,
  type CursorKey,
  type CursorValueKind,
  type Identity,
  type InputProblem,
  type PageArgs,
  type RequestDb,
} from "../../../../common/src";
import type { EntityManager, SelectQueryBuilder } from "typeorm";
import { CloudAccount, type CloudProvider } from "./cloud-account.entity";
import { CloudAccountConnection, ResourceConnection } from "./inventory.connections";
import {
  ResourceOrderField,
  type CloudAccountInput,
  type ResourceFilter,
  type ResourceInput,
  type ResourceOrder,
} from "./inventory.inputs";
import {
  RemoveCloudAccountPayload,
  RemoveResourcesPayload,
  UpsertResourcesPayload,
} from "./inventory.payloads";
import {
  validateAccountInputs,
  validateResourceFilter,
  validateResourceInputs,
} from "./inventory.validation";
import { evaluateResourceIds, forgetAccount, forgetResources } from "../assessments/assessment.runner";
import { builtInVersions } from "../assessments/definition-registry";
import { Resource } from "./resource.entity";

const ORDER_COLUMNS: Record<
  ResourceOrderField,
  { column: string; kind: CursorValueKind; cursor: (r: Resource) => string }
> = {
  [ResourceOrderField.NAME]: { column: "r.name", kind: "text", cursor: (r) => r.name },
  [ResourceOrderField.TYPE]: { column: "r.type", kind: "text", cursor: (r) => r.type },
  [ResourceOrderField.FIRST_SEEN]: {
    column: "r.first_seen",
    kind: "time",
    cursor: (r) => r.firstSeen.toISOString(),
  },
  [ResourceOrderField.LAST_SEEN]: {
    column: "r.last_seen",
    kind: "time",
    cursor: (r) => r.lastSeen.toISOString(),
  },
};

const DEFAULT_ORDER: ResourceOrder = { field: ResourceOrderField.NAME, direction: OrderDirection.ASC };

/**
 * The shared inventory: accounts and resources. Bulk upserts are atomic: a batch with any invalid
 * item is rejected whole with every problem listed (`BAD_USER_INPUT`), and nothing is written, so
 * an integrator fixes the batch and sends it again (the upsert is idempotent).
 */
export class InventoryService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
  ) {}

  /** Creates or updates accounts; returns them in input order. */
  async upsertAccounts(inputs: CloudAccountInput[]): Promise<CloudAccount[]> {
    assertNoProblems("Invalid accounts.", validateAccountInputs(inputs));
    if (inputs.length === 0) return [];
    return this.db.write(async (m) => {
      const rows: Array<Record<string, unknown>> = await m.query(
        `INSERT INTO cloud_accounts (id, tenant_id, provider, external_id, name, onboarded_at)
         SELECT id, $1, provider, external_id, name, now()
         FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[]) AS i(id, provider, external_id, name)
         ORDER BY i.provider, i.external_id -- one lock order whatever the input's: concurrent batches wait, not deadlock
         ON CONFLICT (tenant_id, provider, external_id) DO UPDATE
           SET name = excluded.name,
               updated_at = CASE WHEN cloud_accounts.name IS DISTINCT FROM excluded.name THEN now() ELSE cloud_accounts.updated_at END
         RETURNING id, tenant_id, provider, external_id, name, onboarded_at, created_at, updated_at`,
        [
          this.identity.tenantId,
          inputs.map(() => newId()),
          inputs.map((i) => i.provider),
          inputs.map((i) => i.externalId),
          inputs.map((i) => i.name),
        ],
      );
      const accounts = rows.map((row) =>
        m.create(CloudAccount, {
          id: row.id as string,
          tenantId: row.tenant_id as string,
          provider: row.provider as CloudProvider,
          externalId: row.external_id as string,
          name: row.name as string,
          onboardedAt: row.onboarded_at as Date,
          createdAt: row.created_at as Date,
          updatedAt: row.updated_at as Date,
        }),
      );
      await writeOutbox(
        m,
        accounts.map((a) => ({
          tenantId: this.identity.tenantId,
          topic: "inventory.account.upserted",
          key: a.id,
          payload: { id: a.id, provider: a.provider, externalId: a.externalId, name: a.name },
        })),
      );
      // A new tenant's resources are evaluated as they arrive, with the built-ins shipped now.
      await m.query(
        `INSERT INTO built_in_evaluations (tenant_id, versions) VALUES ($1, $2::jsonb) ON CONFLICT (tenant_id) DO NOTHING`,
        [this.identity.tenantId, JSON.stringify(builtInVersions())],
      );
      await writeAudit(m, this.identity, [
        {
          action: "inventory.accounts.upsert",
          target: "cloud_accounts",
          details: { count: accounts.length },
        },
      ]);
      const byKey = new Map(accounts.map((a) => [`${a.provider}|${a.externalId}`, a]));
      return inputs.map((i) => byKey.get(`${i.provider}|${i.externalId}`)!);
    });
  }

  /** Creates or updates resources in one statement; see the class comment for atomicity. */
  async upsertResources(inputs: ResourceInput[]): Promise<UpsertResourcesPayload> {
    assertNoProblems("Invalid resources; nothing was written.", validateResourceInputs(inputs));
    const payload = Object.assign(new UpsertResourcesPayload(), {
      upsertedCount: 0,
      createdCount: 0,
      updatedCount: 0,
      unchangedCount: 0,
      ids: [] as string[],
    });
    if (inputs.length === 0) return payload;
    return this.db.write(async (m) => {
      const providers = await this.accountProviders(m, inputs);
      const stored = await this.storedArmIds(m, inputs);
      const externalIdOf = (i: ResourceInput) => stored.get(i.externalId.toLowerCase()) ?? i.externalId;
      // Rows are locked in one order whatever the order of the input, so that batches naming the same resources
      // at once wait for one another instead of deadlocking: the batch's existing resources first, in id order (as
      // `removeResources` and `upsertAssessments` lock them), then the new ones as they are inserted, in external
      // id order (two batches inserting one new id: the second waits for the first).
      await m.query(
        `SELECT 1 FROM resources WHERE tenant_id = $1 AND external_id = ANY($2::text[]) ORDER BY id FOR NO KEY UPDATE`,
        [this.identity.tenantId, inputs.map(externalIdOf)],
      );
      const rows: Array<{
        id: string;
        external_id: string;
        account_id: string;
        created: boolean;
        changed: boolean;
      }> = await m.query(
        `INSERT INTO resources AS r (id, tenant_id, account_id, provider, type, kind, external_id, name, region,
                                      resource_group, tags, properties, first_seen, last_seen, updated_at)
         SELECT id, $1, account_id, provider, type, kind, external_id, name, region, resource_group, tags, properties,
                now(), now(), now()
         FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                     $10::text[], $11::jsonb[], $12::jsonb[])
              AS i(id, account_id, provider, type, kind, external_id, name, region, resource_group, tags, properties)
         ORDER BY i.external_id
         ON CONFLICT (tenant_id, external_id) DO UPDATE SET
           account_id = excluded.account_id, provider = excluded.provider, type = excluded.type, kind = excluded.kind,
           name = excluded.name, region = excluded.region, resource_group = excluded.resource_group,
           tags = excluded.tags, properties = excluded.properties, last_seen = now(),
           updated_at = CASE
             WHEN (r.account_id, r.type, r.name, r.region, r.resource_group, r.tags, r.properties)
                  IS DISTINCT FROM (excluded.account_id, excluded.type, excluded.name, excluded.region,
                                    excluded.resource_group, excluded.tags, excluded.properties)
             THEN now() ELSE r.updated_at END
         RETURNING r.id, r.external_id, r.account_id, (r.xmax = 0) AS created, (r.updated_at = now()) AS changed`,
        [
          this.identity.tenantId,
          inputs.map(() => newId()),
          inputs.map((i) => i.accountId),
          inputs.map((i) => providers.get(i.accountId)),
          inputs.map((i) => i.type),
          inputs.map((i) => resourceKindOf(i.type)),
          inputs.map(externalIdOf),
          inputs.map((i) => i.name),
          inputs.map((i) => i.region ?? null),
          inputs.map((i) => i.resourceGroup ?? null),
          inputs.map((i) => JSON.stringify(i.tags ?? {})),
          inputs.map((i) => JSON.stringify(i.properties ?? {})),
        ],
      );
      const idByExternal = new Map(rows.map((r) => [r.external_id, r.id]));
      const changed = rows.filter((r) => r.changed);
      await writeOutbox(
        m,
        changed.map((r) => ({
          tenantId: this.identity.tenantId,
          topic: r.created ? "inventory.resource.created" : "inventory.resource.updated",
          key: r.id,
          payload: { id: r.id, externalId: r.external_id, accountId: r.account_id },
        })),
      );
      // Incremental evaluation in the same transaction: the inventory and its posture never disagree.
      await evaluateResourceIds(
        m,
        this.identity.tenantId,
        changed.map((r) => r.id),
      );
      const createdCount = rows.filter((r) => r.created).length;
      payload.upsertedCount = rows.length;
      payload.createdCount = createdCount;
      payload.updatedCount = changed.length - createdCount;
      payload.unchangedCount = rows.length - changed.length;
      payload.ids = inputs.map((i) => idByExternal.get(externalIdOf(i))!);
      await writeAudit(m, this.identity, [
        {
          action: "inventory.resources.upsert",
          target: "resources",
          details: { received: rows.length, created: payload.createdCount, updated: payload.updatedCount },
        },
      ]);
      return payload;
    });
  }

  /**
   * The stored spelling of each ARM id of the batch that the inventory already holds in another letter case,
   * by lower-case id: an upsert of `/resourcegroups/rg/…` updates the resource stored as `/resourceGroups/RG/…`.
   * A per-tenant transaction lock keeps two batches from creating one Azure resource twice in two spellings
   * (the unique key compares exactly); batches without ARM ids take no lock.
   */
  private async storedArmIds(m: EntityManager, inputs: ResourceInput[]): Promise<Map<string, string>> {
    const keys = [
      ...new Set(inputs.filter((i) => isArmId(i.externalId)).map((i) => i.externalId.toLowerCase())),
    ];
    if (keys.length === 0) return new Map();
    await m.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [
      `posture.resources.arm|${this.identity.tenantId}`,
    ]);
    // Oldest first: where an earlier version stored one resource in two spellings, the first one seen is kept.
    const rows: Array<{ external_id: string; external_id_key: string }> = await m.query(
      `SELECT external_id, external_id_key FROM resources
       WHERE tenant_id = $1 AND external_id_key = ANY($2::text[])
       ORDER BY first_seen DESC, id DESC`,
      [this.identity.tenantId, keys],
    );
    return new Map(rows.map((r) => [r.external_id_key, r.external_id]));
  }

  /** Removes resources by id; ids not in the tenant's inventory are ignored. */
  async removeResources(ids: string[]): Promise<RemoveResourcesPayload> {
    const problems: InputProblem[] = ids.flatMap((id, index) =>
      isUuid(id) ? [] : [{ index, field: "ids", message: "must be a resource id (UUID)" }],
    );
    assertNoProblems("Invalid resource ids; nothing was removed.", problems);
    return this.db.write(async (m) => {
      // Locked in id order first, as `upsertResources` and `upsertAssessments` lock them (a DELETE alone locks rows
      // in whatever order its plan reads them).
      const removed = await this.deleteResources(m, "id = ANY($2::uuid[])", ids);
      if (removed.length)
        await writeAudit(m, this.identity, [
          { action: "inventory.resources.remove", target: "resources", details: { ids: removed } },
        ]);
      return Object.assign(new RemoveResourcesPayload(), {
        removedCount: removed.length,
        removedIds: removed,
      });
    });
  }

  /**
   * Off-boards an account, in one transaction: its resources are removed as `removeResources` removes them (with
   * their `inventory.resource.removed` events, which end protection's state of them), then everything else posture
   * keeps about the account (`forgetAccount`: exemptions, settings, score and its history) and the account itself,
   * with an `inventory.account.removed` event (protection deletes its plans). Alerts and incidents that named its
   * resources stay in the SIEM: they are evidence. NOT_FOUND when the tenant has no such account.
   *
   * Lock order, as `upsertResources`: the account first (an upsert into it holds it KEY SHARE until it commits;
   * one that comes after finds no account), then its resources by id, then the evaluation context.
   */
  async removeCloudAccount(id: string): Promise<RemoveCloudAccountPayload> {
    if (!isUuid(id))
      throw new BadUserInputError("Invalid account id; nothing was removed.", [
        { field: "id", message: "must be an account id (UUID)" },
      ]);
    const accountId = canonicalId(id);
    const tenantId = this.identity.tenantId;
    return this.db.write(async (m) => {
      const [account]: Array<{ provider: string; external_id: string; name: string }> = await m.query(
        `SELECT provider, external_id, name FROM cloud_accounts WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
        [tenantId, accountId],
      );
      if (!account) throw new NotFoundError("Account", id);
      const removed = await this.deleteResources(m, "account_id = $2", accountId);
      const forgotten = await forgetAccount(m, tenantId, accountId);
      await m.query(`DELETE FROM cloud_accounts WHERE tenant_id = $1 AND id = $2`, [tenantId, accountId]);
      const payload = {
        id: accountId,
        provider: account.provider,
        externalId: account.external_id,
        name: account.name,
      };
      await writeOutbox(m, [{ tenantId, topic: "inventory.account.removed", key: accountId, payload }]);
      await writeAudit(m, this.identity, [
        {
          action: "inventory.accounts.remove",
          target: `account:${accountId}`,
          details: {
            ...payload,
            resources: removed.length,
            exemptions: forgotten.exemptions,
            settings: forgotten.settings,
          },
        },
      ]);
      return Object.assign(new RemoveCloudAccountPayload(), {
        accountId,
        removedResourceCount: removed.length,
        removedExemptionCount: forgotten.exemptions,
        removedPolicySettingCount: forgotten.settings,
      });
    });
  }

  /**
   * Deletes the tenant's resources a condition on `$2` selects, locked in id order first, with an
   * `inventory.resource.removed` event each, and forgets their assessments; returns their ids.
   */
  private async deleteResources(m: EntityManager, where: string, param: unknown): Promise<string[]> {
    const rows: Array<{ id: string; external_id: string; account_id: string }> = await m.query(
      `WITH locked AS (SELECT id FROM resources WHERE tenant_id = $1 AND ${where} ORDER BY id FOR UPDATE),
            removed AS (DELETE FROM resources WHERE tenant_id = $1 AND id IN (SELECT id FROM locked)
                          RETURNING id, external_id, account_id)
       SELECT * FROM removed`,
      [this.identity.tenantId, param],
    );
    await writeOutbox(
      m,
      rows.map((r) => ({
        tenantId: this.identity.tenantId,
        topic: "inventory.resource.removed",
        key: r.id,
        payload: { id: r.id, externalId: r.external_id, accountId: r.account_id },
      })),
    );
    const ids = rows.map((r) => r.id);
    await forgetResources(m, this.identity.tenantId, ids);
    return ids;
  }

  /** A page of the tenant's accounts, by name. */
  async accounts(args: PageArgs): Promise<CloudAccountConnection> {
    const page = toKeysetPage(args, "text");
    const base = () =>
      this.db.read(async (m) =>
        m
          .getRepository(CloudAccount)
          .createQueryBuilder("a")
          .where("a.tenant_id = :tenant", { tenant: this.identity.tenantId }),
      );
    const rows = await this.db.read(async (m) => {
      const qb = m
        .getRepository(CloudAccount)
        .createQueryBuilder("a")
        .where("a.tenant_id = :tenant", { tenant: this.identity.tenantId });
      if (page.after) qb.andWhere("(a.name, a.id) > (:v, :id)", { v: page.after[0], id: page.after[1] });
      return qb
        .orderBy("a.name", "ASC")
        .addOrderBy("a.id", "ASC")
        .limit(page.first + 1)
        .getMany();
    });
    return CloudAccountConnection.from({
      rows,
      page,
      total: async () => (await base()).getCount(),
      cursorOf: (a) => [a.name, a.id],
    });
  }

  /** A filtered, ordered page of resources (keyset pagination on the order field and id). */
  async resources(
    filter: ResourceFilter | undefined,
    order: ResourceOrder | undefined,
    args: PageArgs,
  ): Promise<ResourceConnection> {
    const { field, direction } = order ?? DEFAULT_ORDER;
    const sort = ORDER_COLUMNS[field];
    const page = toKeysetPage(args, sort.kind);
    assertNoProblems("Invalid filter.", validateResourceFilter(filter));
    const dir = direction === OrderDirection.DESC ? "DESC" : "ASC";
    const rows = await this.db.read(async (m) => {
      const qb = this.filtered(m, filter);
      if (page.after) {
        const [value, id] = page.after;
        qb.andWhere(`(${sort.column}, r.id) ${dir === "ASC" ? ">" : "<"} (:cursorValue, :cursorId)`, {
          cursorValue: value,
          cursorId: id,
        });
      }
      return qb
        .orderBy(sort.column, dir)
        .addOrderBy("r.id", dir)
        .limit(page.first + 1)
        .getMany();
    });
    return ResourceConnection.from({
      rows,
      page,
      total: () => this.db.read((m) => this.filtered(m, filter).getCount()),
      cursorOf: (r): CursorKey => [sort.cursor(r), r.id],
    });
  }

  /** Resources by id, for the DataLoader (one statement per batch). */
  resourcesByIds(ids: readonly string[]): Promise<Resource[]> {
    const valid = ids.filter(isUuid);
    if (valid.length === 0) return Promise.resolve([]);
    return this.db.read((m) =>
      m
        .getRepository(Resource)
        .createQueryBuilder("r")
        .where("r.tenant_id = :tenant AND r.id = ANY(:ids)", { tenant: this.identity.tenantId, ids: valid })
        .getMany(),
    );
  }

  /** Resources by external id, case-insensitively, for the DataLoader (one statement per batch). */
  resourcesByExternalIds(externalIds: readonly string[]): Promise<Resource[]> {
    if (externalIds.length === 0) return Promise.resolve([]);
    return this.db.read((m) =>
      m
        .getRepository(Resource)
        .createQueryBuilder("r")
        // `=` on the stored lower-case id: the tenant policy lets Postgres use its index (`lower()` is not leakproof).
        .where("r.tenant_id = :tenant AND r.external_id_key = ANY(:ids)", {
          tenant: this.identity.tenantId,
          ids: externalIds.map((e) => e.toLowerCase()),
        })
        .getMany(),
    );
  }

  /** Accounts by id, for the DataLoader (one statement per batch). */
  accountsByIds(ids: readonly string[]): Promise<CloudAccount[]> {
    const valid = ids.filter(isUuid);
    if (valid.length === 0) return Promise.resolve([]);
    return this.db.read((m) =>
      m
        .getRepository(CloudAccount)
        .createQueryBuilder("a")
        .where("a.tenant_id = :tenant AND a.id = ANY(:ids)", { tenant: this.identity.tenantId, ids: valid })
        .getMany(),
    );
  }

  private filtered(m: EntityManager, filter: ResourceFilter | undefined): SelectQueryBuilder<Resource> {
    const qb = m
      .getRepository(Resource)
      .createQueryBuilder("r")
      .where("r.tenant_id = :tenant", { tenant: this.identity.tenantId });
    if (!filter) return qb;
    if (filter.accountId) {
      if (!isUuid(filter.accountId)) qb.andWhere("false");
      else qb.andWhere("r.account_id = :accountId", { accountId: filter.accountId });
    }
    if (filter.types?.length)
      qb.andWhere("lower(r.type) = ANY(:types)", { types: filter.types.map((t) => t.toLowerCase()) });
    if (filter.kinds?.length) qb.andWhere("r.kind = ANY(:kinds)", { kinds: filter.kinds });
    if (filter.regions?.length) qb.andWhere("r.region = ANY(:regions)", { regions: filter.regions });
    if (filter.search) {
      const like = containsPattern(filter.search);
      qb.andWhere("(r.name ILIKE :like OR r.external_id ILIKE :like)", { like });
    }
    if (filter.tag) {
      if (filter.tag.value == null) qb.andWhere("r.tags ? :tagKey", { tagKey: filter.tag.key });
      else
        qb.andWhere("r.tags @> CAST(:tagPair AS jsonb)", {
          tagPair: JSON.stringify({ [filter.tag.key]: filter.tag.value }),
        });
    }
    return qb;
  }

  /** Provider of each referenced account; unknown accounts are input problems. */
  private async accountProviders(
    m: EntityManager,
    inputs: ResourceInput[],
  ): Promise<Map<string, CloudProvider>> {
    const ids = [...new Set(inputs.map((i) => i.accountId))];
    const rows: Array<{ id: string; provider: CloudProvider }> = await m.query(
      // KEY SHARE, in id order, before any resource: `removeCloudAccount` takes the account first too, so a removal
      // waits for this batch (and removes what it wrote) or this batch waits for it (and finds no account).
      `SELECT id, provider FROM cloud_accounts WHERE tenant_id = $1 AND id = ANY($2::uuid[]) ORDER BY id FOR KEY SHARE`,
      [this.identity.tenantId, ids],
    );
    const providers = new Map(rows.map((r) => [r.id, r.provider]));
    const problems = inputs.flatMap((i, index) =>
      providers.has(i.accountId)
        ? []
        : [{ index, field: "accountId", message: "no such account in this tenant" }],
    );
    assertNoProblems("Invalid resources; nothing was written.", problems);
    return providers;
  }
}
