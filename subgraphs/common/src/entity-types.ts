/**
 * Kinds of the entities alerts and detections involve (Sentinel's entity mappings): the SIEM's alerts, incidents and
 * investigation, and protection's detections (which become WORKLOAD_PROTECTION alerts), name entities by these.
 */
export const ENTITY_TYPES = [
  "ACCOUNT",
  "HOST",
  "IP",
  "RESOURCE",
  "FILE_HASH",
  "PROCESS",
  "URL",
  "DOMAIN",
] as const;
export type EntityType = (typeof ENTITY_TYPES)[number];

/** The GraphQL description of the `EntityType` enum, the same in every subgraph that has it. */
export const ENTITY_TYPE_DESCRIPTION =
  "Kind of an entity: ACCOUNT, HOST, IP, RESOURCE, FILE_HASH, PROCESS, URL or DOMAIN.";
