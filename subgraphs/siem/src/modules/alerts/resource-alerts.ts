import { isArmId, isUuid } from "../../../../common/src";
import { entityKey } from "./alert-store";

/** A resource as `Resource.alerts` and `Resource.incidents` receive it: Rampart's id and the provider's id. */
export interface ResourceKey {
  id: string;
  externalId?: string | null;
}

/** The loader key of a resource: both ids, since an alert may name the resource by either. */
export const resourceLoaderKey = (resource: ResourceKey): string =>
  `${resource.id}\n${resource.externalId ?? ""}`;

/**
 * The alerts on each of many resources, as `WITH hits AS (…)` rows `(parent_id, alert_id)`:
 * - alerts stored with the resource's id;
 * - alerts naming the resource in a RESOURCE entity, by its ARM id / ARN or by Rampart's id (rule alerts map a
 *   RESOURCE entity from the event's resource and never carry Rampart's id: without this they were missing from
 *   the resource while their `resource` field named it);
 * - for an ARM id, alerts naming something beneath it (`<id>/providers/microsoft.insights/diagnosticsettings/x`,
 *   a vault's secret, a network's subnet), which `SecurityAlert.resource` resolves to the nearest inventoried
 *   ancestor: the byte-wise range `[<id>/, <id>0)`, served by `alert_entities_resource_scope`.
 * Entity values are kept in their canonical (lower-case) form, as the investigation matches them. Each part is
 * a lateral index lookup per resource (`OFFSET 0` keeps Postgres from flattening it into a join that reads the
 * tenant's every RESOURCE entity); the bounds are computed here, as the tenant policy admits only leakproof
 * operators, with nothing computed on the right, into an index condition.
 *
 * Parameters (`resourceAlertHitsParams`): `$1` the tenant; `$2`, `$3` the keys and their resource ids;
 * `$4`, `$5` the keys and the entity values naming them; `$6`–`$8` the keys of ARM ids and their scopes' bounds.
 */
export const RESOURCE_ALERT_HITS = `WITH hits AS (
    SELECT k.parent_id, a.alert_id FROM unnest($2::text[], $3::uuid[]) AS k(parent_id, resource_id)
      CROSS JOIN LATERAL (SELECT a.id AS alert_id FROM alerts a
                           WHERE a.tenant_id = $1 AND a.resource_id = k.resource_id OFFSET 0) a
    UNION
    SELECT k.parent_id, ae.alert_id FROM unnest($4::text[], $5::text[]) AS k(parent_id, value)
      CROSS JOIN LATERAL (SELECT ae.alert_id FROM alert_entities ae
                           WHERE ae.tenant_id = $1 AND ae.entity_type = 'RESOURCE' AND ae.value = k.value OFFSET 0) ae
    UNION
    SELECT k.parent_id, ae.alert_id FROM unnest($6::text[], $7::text[], $8::text[]) AS k(parent_id, low, high)
      CROSS JOIN LATERAL (SELECT ae.alert_id FROM alert_entities ae
                           WHERE ae.tenant_id = $1 AND ae.entity_type = 'RESOURCE'
                             AND ae.value ~>=~ k.low AND ae.value ~<~ k.high OFFSET 0) ae
  )`;

/**
 * How alerts name a resource by its provider id: `value`, the RESOURCE entity value (canonical form), and for an
 * ARM id `armScope`, that value without trailing slashes, beneath which (`<armScope>/…`) entities belong to the
 * resource too; null for other ids. The SIEM's `resource_accounts` mirror stores both, so the account summary
 * matches exactly what `Resource.alerts` matches.
 */
export function resourceEntityKeys(externalId: string): { value: string; armScope: string | null } {
  const value = entityKey("RESOURCE", externalId);
  return { value, armScope: isArmId(externalId) ? value.replace(/\/+$/, "") : null };
}

/** The parameters of RESOURCE_ALERT_HITS for the loader keys of `resourceLoaderKey`. */
export function resourceAlertHitsParams(tenantId: string, keys: readonly string[]): unknown[] {
  const byId: Array<[string, string]> = [];
  const byValue: Array<[string, string]> = [];
  const byScope: Array<[string, string, string]> = [];
  for (const key of keys) {
    const cut = key.indexOf("\n");
    const id = key.slice(0, cut);
    const externalId = key.slice(cut + 1);
    if (isUuid(id)) {
      byId.push([key, id.toLowerCase()]);
      byValue.push([key, id.toLowerCase()]);
    }
    if (externalId) {
      const { value, armScope } = resourceEntityKeys(externalId);
      byValue.push([key, value]);
      if (armScope !== null) byScope.push([key, `${armScope}/`, `${armScope}0`]); // "0" follows "/" byte-wise
    }
  }
  const column = <T extends unknown[]>(rows: T[], i: number) => rows.map((r) => r[i]);
  return [
    tenantId,
    column(byId, 0),
    column(byId, 1),
    column(byValue, 0),
    column(byValue, 1),
    column(byScope, 0),
    column(byScope, 1),
    column(byScope, 2),
  ];
}
