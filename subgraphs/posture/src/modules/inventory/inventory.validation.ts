import {
  isArmId,
  isPlainObject,
  isUuid,
  jsonProblem,
  textProblem,
  utf8LongerThan,
  type InputProblem,
} from "../../../../common/src";
import type { CloudAccountInput, ResourceFilter, ResourceInput } from "./inventory.inputs";

/** Most items one `upsertResources` call takes (the HTTP body limit applies too). */
export const MAX_RESOURCES_PER_CALL = 50_000;
const MAX_TAGS = 50;
const MAX_PROPERTIES_BYTES = 256 * 1024;
/**
 * Longest external id in UTF-8 bytes, as stored and lower-cased: both are btree keys next to the tenant id
 * (`UNIQUE (tenant_id, external_id)`, `resources_tenant_external_key`), and an index entry holds ~2,700 bytes.
 */
const MAX_EXTERNAL_ID_BYTES = 1536;

function text(
  problems: InputProblem[],
  index: number,
  field: string,
  value: unknown,
  max: number,
  required = true,
) {
  if (value === undefined || value === null) {
    if (required) problems.push({ index, field, message: "is required" });
    return;
  }
  if (typeof value !== "string" || value.trim() === "")
    problems.push({ index, field, message: "must be a non-empty string" });
  else if (value.length > max) problems.push({ index, field, message: `must be at most ${max} characters` });
  else {
    // Postgres text holds no NUL, and an unpaired surrogate would be stored as U+FFFD.
    const problem = textProblem(value);
    if (problem) problems.push({ index, field, message: problem });
  }
}

/** Problems of a tags or properties object: strings and keys jsonb refuses, nesting past MAX_JSON_DEPTH. */
function json(
  problems: InputProblem[],
  index: number,
  field: string,
  value: Record<string, unknown>,
): boolean {
  const fault = jsonProblem(value);
  if (fault)
    problems.push({ index, field: fault.path ? `${field}.${fault.path}` : field, message: fault.message });
  return fault === null;
}

/**
 * What makes two external ids the same resource: an ARM id whatever its letter case (Azure answers the same
 * resource under `/resourceGroups/RG` and `/resourcegroups/rg`), any other id (an AWS ARN, where case is
 * significant) exactly.
 */
export function externalIdentity(externalId: string): string {
  return isArmId(externalId) ? externalId.toLowerCase() : externalId;
}

/** Every problem of a batch of resource inputs (all of them, so one fix-and-retry suffices). */
export function validateResourceInputs(inputs: readonly ResourceInput[]): InputProblem[] {
  const problems: InputProblem[] = [];
  if (inputs.length > MAX_RESOURCES_PER_CALL) {
    return [
      { field: "input", message: `at most ${MAX_RESOURCES_PER_CALL} items per call (got ${inputs.length})` },
    ];
  }
  const firstIndexOf = new Map<string, number>();
  inputs.forEach((item, index) => {
    if (!isUuid(item.accountId))
      problems.push({ index, field: "accountId", message: "must be an account id (UUID)" });
    text(problems, index, "externalId", item.externalId, 1024);
    if (
      typeof item.externalId === "string" &&
      (utf8LongerThan(item.externalId, MAX_EXTERNAL_ID_BYTES) ||
        utf8LongerThan(item.externalId.toLowerCase(), MAX_EXTERNAL_ID_BYTES))
    )
      problems.push({
        index,
        field: "externalId",
        message: `must be at most ${MAX_EXTERNAL_ID_BYTES} bytes`,
      });
    text(problems, index, "type", item.type, 256);
    text(problems, index, "name", item.name, 512);
    text(problems, index, "region", item.region, 64, false);
    text(problems, index, "resourceGroup", item.resourceGroup, 256, false);
    if (item.tags != null) {
      if (!isPlainObject(item.tags))
        problems.push({ index, field: "tags", message: "must be a JSON object" });
      else if (json(problems, index, "tags", item.tags)) {
        const entries = Object.entries(item.tags);
        if (entries.length > MAX_TAGS)
          problems.push({ index, field: "tags", message: `at most ${MAX_TAGS} tags` });
        for (const [key, value] of entries) {
          if (typeof value !== "string")
            problems.push({ index, field: `tags.${key}`, message: "tag values must be strings" });
        }
      }
    }
    if (item.properties != null) {
      if (!isPlainObject(item.properties))
        problems.push({ index, field: "properties", message: "must be a JSON object" });
      // Checked first: serialising a value nested thousands deep would overflow the stack.
      else if (
        json(problems, index, "properties", item.properties) &&
        JSON.stringify(item.properties).length > MAX_PROPERTIES_BYTES
      ) {
        problems.push({
          index,
          field: "properties",
          message: `must serialise to at most ${MAX_PROPERTIES_BYTES} bytes`,
        });
      }
    }
    if (typeof item.externalId === "string") {
      const key = externalIdentity(item.externalId);
      const first = firstIndexOf.get(key);
      if (first !== undefined)
        problems.push({ index, field: "externalId", message: `duplicates item ${first} in this batch` });
      else firstIndexOf.set(key, index);
    }
  });
  return problems;
}

/** Every problem of a batch of account inputs. */
export function validateAccountInputs(inputs: readonly CloudAccountInput[]): InputProblem[] {
  const problems: InputProblem[] = [];
  const seen = new Map<string, number>();
  inputs.forEach((item, index) => {
    text(problems, index, "externalId", item.externalId, 256);
    text(problems, index, "name", item.name, 256);
    const key = `${item.provider}|${item.externalId}`;
    const first = seen.get(key);
    if (first !== undefined)
      problems.push({ index, field: "externalId", message: `duplicates item ${first} in this batch` });
    else seen.set(key, index);
  });
  return problems;
}

/** Problems of a resource filter: its strings reach SQL parameters, which hold no NUL (nor, in jsonb, surrogates). */
export function validateResourceFilter(filter: ResourceFilter | undefined | null): InputProblem[] {
  const problems: InputProblem[] = [];
  const check = (field: string, value: string | null | undefined) => {
    const problem = typeof value === "string" ? textProblem(value) : null;
    if (problem) problems.push({ field, message: problem });
  };
  if (!filter) return problems;
  check("filter.search", filter.search);
  filter.types?.forEach((t, i) => check(`filter.types[${i}]`, t));
  filter.regions?.forEach((r, i) => check(`filter.regions[${i}]`, r));
  check("filter.tag.key", filter.tag?.key);
  check("filter.tag.value", filter.tag?.value);
  return problems;
}
