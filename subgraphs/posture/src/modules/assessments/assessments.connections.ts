import { Connection } from "../../../../common/src";
import { Assessment } from "./assessments.types";

/** A page of assessments. */
export const AssessmentConnection = Connection(Assessment);
export type AssessmentConnection = InstanceType<typeof AssessmentConnection>;
