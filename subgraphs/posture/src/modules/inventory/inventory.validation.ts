import { isPlainObject, isUuid, type InputProblem } from "../../../../common/src";
import type { CloudAccountInput, ResourceInput } from "./inventory.inputs";

/** Most items one `upsertResources` call takes (the HTTP body limit applies too). */
export const MAX_RESOURCES_PER_CALL = 50_000;
const MAX_TAGS = 50;
const MAX_PROPERTIES_BYTES = 256 * 1024;

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
    text(problems, index, "type", item.type, 256);
    text(problems, index, "name", item.name, 512);
    text(problems, index, "region", item.region, 64, false);
    text(problems, index, "resourceGroup", item.resourceGroup, 256, false);
    if (item.tags != null) {
      if (!isPlainObject(item.tags))
        problems.push({ index, field: "tags", message: "must be a JSON object" });
      else {
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
      else if (JSON.stringify(item.properties).length > MAX_PROPERTIES_BYTES) {
        problems.push({
          index,
          field: "properties",
          message: `must serialise to at most ${MAX_PROPERTIES_BYTES} bytes`,
        });
      }
    }
    if (typeof item.externalId === "string") {
      const key = item.externalId;
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
