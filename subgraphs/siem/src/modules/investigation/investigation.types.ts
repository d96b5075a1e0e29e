import { Field, ID, ObjectType, registerEnumType } from "type-graphql";
import { Severity } from "../alerts/alert.entity";
import { EntityTypeEnum } from "../alerts/alerts.inputs";

/** Kind of a node of an incident's graph. */
export enum GraphNodeKind {
  INCIDENT = "INCIDENT",
  ALERT = "ALERT",
  ENTITY = "ENTITY",
}

/** Kind of an edge of an incident's graph. */
export enum GraphEdgeKind {
  CONTAINS = "CONTAINS",
  INVOLVES = "INVOLVES",
  RELATED = "RELATED",
}

registerEnumType(GraphNodeKind, { name: "GraphNodeKind", description: "INCIDENT, ALERT or ENTITY." });
registerEnumType(GraphEdgeKind, {
  name: "GraphEdgeKind",
  description:
    "CONTAINS (incident → alert), INVOLVES (alert → entity), RELATED (entity → alert of another incident).",
});

/** A node of an incident's investigation graph. */
@ObjectType({ description: "A node of an incident's investigation graph." })
export class GraphNode {
  @Field(() => ID, { description: "`incident:<id>`, `alert:<id>` or `entity:<TYPE>:<value>`." })
  id: string;

  @Field(() => GraphNodeKind, { description: "What it is." })
  kind: GraphNodeKind;

  @Field({ description: "Display label." })
  label: string;

  @Field(() => Severity, { nullable: true, description: "Severity (incidents and alerts)." })
  severity: Severity | null;

  @Field(() => ID, { nullable: true, description: "For RELATED alerts: the incident they belong to." })
  incidentId: string | null;

  @Field(() => EntityTypeEnum, {
    nullable: true,
    description:
      "For ENTITY nodes: the entity's kind (with `entityValue`, what `entity(type:, value:)` takes to open its investigation page); null otherwise.",
  })
  entityType: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      "For ENTITY nodes: the entity's value as the alerts' entities hold it (matched case-insensitively); null otherwise.",
  })
  entityValue: string | null;

  /** For ALERT nodes: the alert's id (`alert` resolves it). */
  alertId: string | null;
}

/** An edge of an incident's investigation graph. */
@ObjectType({ description: "An edge of an incident's investigation graph." })
export class GraphEdge {
  @Field(() => ID, { description: "Source node id." })
  from: string;

  @Field(() => ID, { description: "Target node id." })
  to: string;

  @Field(() => GraphEdgeKind, { description: "Relation." })
  kind: GraphEdgeKind;
}

/** An incident's investigation graph. */
@ObjectType({
  description:
    "An incident's alerts, their entities, and related alerts of other incidents sharing those entities.",
})
export class IncidentGraph {
  @Field(() => [GraphNode], { description: "Nodes." })
  nodes: GraphNode[];

  @Field(() => [GraphEdge], { description: "Edges." })
  edges: GraphEdge[];
}

/** An entity's investigation page. */
@ObjectType({ description: "An entity (account, host, IP…) with its alerts, incidents and event timeline." })
export class EntityProfile {
  @Field(() => EntityTypeEnum, { description: "Kind." })
  type: string;

  @Field({ description: "Value (as asked; matching is case-insensitive)." })
  value: string;

  /** What the value is matched as: lower case; for an IP the canonical address events and alerts are indexed by. */
  key: string;
}
