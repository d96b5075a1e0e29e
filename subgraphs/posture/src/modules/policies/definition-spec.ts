import type { PolicyResource } from "./policy-language";

/** Severity of a definition and of its recommendation. */
export type SeverityLevel = "HIGH" | "MEDIUM" | "LOW";

/** Where an assessment comes from. */
export type AssessmentSource = "BUILT_IN" | "CUSTOM_POLICY" | "EXTERNAL";

/** A policy definition as stored (built-in data file or a tenant's custom definition). */
export interface DefinitionSpec {
  id: string;
  version: string;
  title: string;
  description: string;
  severity: SeverityLevel;
  /** Security control id (controls.yaml). */
  control: string;
  /** Provider-native types the definition applies to. */
  resourceTypes: string[];
  /** Optional condition; when it does not hold the resource is NOT_APPLICABLE. */
  applicability?: unknown;
  /** Azure Policy `if` condition: when it holds the resource is UNHEALTHY. */
  condition: unknown;
  /** The configuration property the definition checks. */
  property: string;
  remediation: string[];
  threats: string[];
  userImpact: "Low" | "Moderate" | "High";
  implementationEffort: "Low" | "Moderate" | "High";
}

/** A resource as the engine evaluates it: the policy view plus its account. */
export interface AssessableResource extends PolicyResource {
  accountId: string;
}
