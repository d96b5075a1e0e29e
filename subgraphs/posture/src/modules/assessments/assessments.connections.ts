import { Connection } from "../../../../common/src";
import { Assessment, Exemption } from "./assessments.types";

/** A page of assessments. */
export const AssessmentConnection = Connection(Assessment);
export type AssessmentConnection = InstanceType<typeof AssessmentConnection>;

/** A page of exemptions. */
export const ExemptionConnection = Connection(Exemption);
export type ExemptionConnection = InstanceType<typeof ExemptionConnection>;
